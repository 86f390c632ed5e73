"""The PostgreSQL index through a TCP proxy that loses the database, then gives it back."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from devkit.faultproxy import FaultProxy
from events.testing import wait_for
from search.adapters.postgres import PostgresIndexSettings, PostgresSearchIndex, create_engine
from search.index import SearchQuery, SearchUnavailable
from search.testing import document

SETTINGS = PostgresIndexSettings(operation_timeout_s=1.0, statement_timeout_ms=800)


@pytest.fixture
async def proxied_index(
    fresh_database: str, pg_engine: AsyncEngine, postgres_proxy: FaultProxy
) -> AsyncIterator[PostgresSearchIndex]:
    engine = create_engine(postgres_proxy.url_for(fresh_database), SETTINGS)
    try:
        yield PostgresSearchIndex(engine, SETTINGS)
    finally:
        await engine.dispose()


def operations(index: PostgresSearchIndex) -> dict[str, Callable[[], Awaitable[Any]]]:
    doc = document("Outage drill")
    return {
        "search": lambda: index.search(SearchQuery("drill")),
        "upsert": lambda: index.upsert(doc),
        "delete": lambda: index.delete(doc.portfolio_id, 99),
        "get": lambda: index.get(doc.portfolio_id),
        "versions": index.versions,
        "ensure": index.ensure,
    }


@pytest.mark.parametrize("failure", ["refuse", "blackhole"])
async def test_an_outage_raises_search_unavailable_within_the_deadline_then_heals(
    proxied_index: PostgresSearchIndex, postgres_proxy: FaultProxy, failure: str
) -> None:
    kept = document("Drill before the outage")
    assert await proxied_index.upsert(kept)
    getattr(postgres_proxy, failure)()
    for name, operation in operations(proxied_index).items():
        started = time.monotonic()
        with pytest.raises(SearchUnavailable):
            await operation()
        elapsed = time.monotonic() - started
        # The deadline is the contract: the API answers 503 instead of hanging. A black hole in
        # front of pooled connections costs up to twice it: after the operation's deadline, the
        # abandoned connection's rollback waits out its own command timeout.
        bound = SETTINGS.operation_timeout_s * (2 if failure == "blackhole" else 1) + 0.5
        assert elapsed < bound, (name, elapsed)
    postgres_proxy.restore()

    async def healed() -> bool:
        try:
            page = await proxied_index.search(SearchQuery("drill"))
        except SearchUnavailable:
            return False
        return [h.portfolio_id for h in page.hits] == [kept.portfolio_id]

    await wait_for(healed, timeout=10, message="search works again after the link came back")
    assert await proxied_index.upsert(document("Drill after the outage"))
