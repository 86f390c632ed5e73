"""Search's declaration: what `python -m search api|worker|all|migrate|reindex|reconcile` runs."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from events import configure_logging
from events.catalog import PORTFOLIO_EVENTS
from events.contracts import MediaProcessedV1, UserRegisteredV1
from search.adapters.postgres_schema import metadata as index_tables
from search.api import router
from search.config import Settings
from search.container import Container, build
from search.handlers import indexing, maintenance
from servicekit.http import ReadinessCheck
from servicekit.service import Service, Subscribe


def backends(container: Container) -> Mapping[str, ReadinessCheck]:
    """The index: reachable, its tables or settings in place."""
    return {"index": container.index.ensure}


def _run(command: str) -> int:
    settings = Settings()
    configure_logging("search", level=settings.log_level, json=settings.log_json)

    async def main() -> int:
        container = build(settings)
        try:
            if command == "reconcile":
                fixed = await container.bound(maintenance.reconcile)()
                print(f"reconciled: {fixed['written']} written, {fixed['removed']} removed")
            else:
                from rich.progress import Progress

                with Progress() as bar:
                    task = bar.add_task("rebuilding the index", total=None)

                    def progress(done: int, total: int) -> None:
                        bar.update(task, completed=done, total=total)

                    count = await container.bound(maintenance.rebuild)(progress)
                print(f"reindexed {count} documents; the new index is live")
            return 0
        finally:
            await container.close()

    return asyncio.run(main())


SERVICE: Service[Container] = Service(
    name="search",
    description="Search over public portfolios, fed by events: PostgreSQL or Meilisearch.",
    settings=Settings,
    build=build,
    routers=[router],
    subscriptions=[
        Subscribe("index_portfolio", PORTFOLIO_EVENTS, indexing.index_portfolio),
        Subscribe("index_media", (MediaProcessedV1,), indexing.index_media),
        Subscribe("owners", (UserRegisteredV1,), indexing.record_owner),
    ],
    backends=backends,
    needs=("search",),
    tables=(index_tables,),
    commands={"reindex": lambda _: _run("reindex"), "reconcile": lambda _: _run("reconcile")},
)
