"""Search's composition root: settings in, the projection's database, the index, the limiter."""

from __future__ import annotations

from dataclasses import dataclass

from search.adapters.meilisearch import MeilisearchSearchIndex, MeilisearchSettings
from search.adapters.postgres import PostgresIndexSettings, PostgresSearchIndex, create_engine
from search.config import Settings
from search.index import SearchIndex
from search.ratelimit import RateLimiter
from search.unit_of_work import SearchUnitOfWork
from servicekit.clock import Clock, SystemClock
from servicekit.container import ServiceContainer, open_database


@dataclass(kw_only=True)
class Container(ServiceContainer):
    settings: Settings
    index: SearchIndex
    limiter: RateLimiter

    def uow(self) -> SearchUnitOfWork:
        return SearchUnitOfWork(self.sessions)


def index_for(settings: Settings) -> SearchIndex:
    chosen = settings.index
    if chosen.backend == "meilisearch":
        if not chosen.meilisearch_url:
            raise ValueError(
                "SEARCH_INDEX__MEILISEARCH_URL is required for the meilisearch backend"
            )
        key = chosen.meilisearch_api_key
        return MeilisearchSearchIndex(
            MeilisearchSettings(
                url=chosen.meilisearch_url,
                api_key=key.get_secret_value() if key else None,
                index=chosen.meilisearch_index,
            )
        )
    url = (chosen.database_url or settings.database_url).get_secret_value()
    options = PostgresIndexSettings(operation_timeout_s=chosen.operation_timeout_s)
    return OwnedPostgresIndex(create_engine(url, options, pool_size=settings.db_pool_size), options)


class OwnedPostgresIndex(PostgresSearchIndex):
    """The PostgreSQL index with an engine of its own, disposed when it closes."""

    async def close(self) -> None:
        await super().close()
        await self.engine.dispose()


def build(settings: Settings, *, clock: Clock | None = None) -> Container:
    container = Container(
        settings=settings,
        engine=open_database(settings),
        clock=clock or SystemClock(),
        index=index_for(settings),
        limiter=RateLimiter(settings.rate_limit.per_second, settings.rate_limit.burst),
    )
    container.on_close(container.index.close)
    return container
