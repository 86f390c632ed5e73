"""The search index in the search service's own PostgreSQL database: tsvector, GIN and pg_trgm.

Every operation runs in one transaction under a client-side deadline (`operation_timeout_s`)
and a server-side `statement_timeout`; a lost server, a refused connection or a deadline turns
into `SearchUnavailable`. Typo tolerance follows PostgreSQL's pg_trgm documentation: each query
word of 5+ letters is expanded into the indexed words one typo away (trigram candidates from
`search_words`, checked exactly by `search.typos`) before the tsquery is built.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from search import cursor
from search.adapters import postgres_sql as sql
from search.adapters.postgres_errors import unavailable_from
from search.adapters.postgres_rebuild import PostgresRebuild
from search.adapters.postgres_schema import CONFIG, DOCUMENTS, WORDS
from search.adapters.postgres_search import run_search
from search.adapters.postgres_write import write
from search.index import (
    IndexRejected,
    ProgressCallback,
    Rebuild,
    SearchDocument,
    SearchItem,
    SearchPage,
    SearchQuery,
)


@dataclass(frozen=True)
class PostgresIndexSettings:
    operation_timeout_s: float = 2.0
    """Client-side deadline for one operation (pool checkout included)."""
    statement_timeout_ms: int = 1500
    rebuild_timeout_s: float = 600.0
    """Deadline for a rebuild's bulk steps (index builds, the swap's merge)."""


def create_engine(url: str, settings: PostgresIndexSettings, *, pool_size: int = 10) -> AsyncEngine:
    """An asyncpg engine whose connects and queries give up at the operation deadline."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return create_async_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_timeout=settings.operation_timeout_s,
        connect_args={
            "timeout": settings.operation_timeout_s,
            "command_timeout": settings.operation_timeout_s,
        },
    )


class PostgresSearchIndex:
    """`SearchIndex` on PostgreSQL full-text search. The engine is the caller's to dispose."""

    def __init__(self, engine: AsyncEngine, settings: PostgresIndexSettings | None = None) -> None:
        self.engine = engine
        self.settings = settings or PostgresIndexSettings()

    @asynccontextmanager
    async def transaction(self, timeout_s: float | None = None) -> AsyncIterator[AsyncConnection]:
        """One transaction under the deadline; outages surface as `SearchUnavailable`."""
        deadline = timeout_s or self.settings.operation_timeout_s
        statement_ms = self.settings.statement_timeout_ms if timeout_s is None else 0
        try:
            async with asyncio.timeout(deadline), self.engine.begin() as conn:
                await conn.execute(
                    text(sql.SESSION),
                    {
                        "statement_timeout": str(statement_ms),
                        "similarity": str(sql.TYPO_SIMILARITY),
                    },
                )
                yield conn
        except Exception as exc:
            mapped = unavailable_from(exc, deadline)
            if mapped is None:
                raise
            raise mapped from exc

    async def ensure(self) -> None:
        async with self.transaction() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT to_regclass(:documents) IS NOT NULL, "
                        "to_regclass(:words) IS NOT NULL, "
                        "EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = :config)"
                    ),
                    {"documents": DOCUMENTS, "words": WORDS, "config": CONFIG},
                )
            ).one()
        if not all(row):
            raise IndexRejected(
                f"the search tables or the {CONFIG} configuration are missing: "
                "run the search service's migrations"
            )

    async def upsert(self, doc: SearchDocument) -> bool:
        async with self.transaction() as conn:
            return bool(await write(conn, DOCUMENTS, [doc]))

    async def delete(self, portfolio_id: UUID, version: int) -> bool:
        async with self.transaction() as conn:
            result = await conn.execute(
                text(sql.tombstone(DOCUMENTS)), {"id": portfolio_id, "version": version}
            )
            return result.first() is not None

    async def get(self, portfolio_id: UUID) -> SearchDocument | None:
        async with self.transaction() as conn:
            row = (
                await conn.execute(
                    text(
                        f"SELECT portfolio_id, owner_id, owner_name, title, description, items, "
                        f"thumbnail, updated_at, version FROM {DOCUMENTS} "
                        "WHERE portfolio_id = :id AND NOT deleted"
                    ),
                    {"id": portfolio_id},
                )
            ).first()
        if row is None:
            return None
        items = tuple(
            SearchItem(UUID(i["item_id"]), i["title"], i["description"], i["thumbnail"])
            for i in row.items
        )
        return SearchDocument(
            row.portfolio_id,
            row.owner_id,
            row.owner_name,
            row.title,
            row.description,
            items,
            row.thumbnail,
            row.updated_at,
            row.version,
        )

    async def versions(self) -> dict[UUID, int]:
        async with self.transaction() as conn:
            rows = await conn.execute(
                text(f"SELECT portfolio_id, version FROM {DOCUMENTS} WHERE NOT deleted")
            )
            return {r.portfolio_id: r.version for r in rows}

    async def search(self, query: SearchQuery) -> SearchPage:
        position = cursor.decode(query)
        async with self.transaction() as conn:
            return await run_search(conn, DOCUMENTS, query, position)

    async def begin_rebuild(self, progress: ProgressCallback | None = None) -> Rebuild:

        return await PostgresRebuild.begin(self, progress)

    async def purge_tombstones(self, before: datetime) -> int:
        """Forget tombstones written before `before` (far beyond any event's possible delay)."""
        async with self.transaction() as conn:
            result = await conn.execute(
                text(f"DELETE FROM {DOCUMENTS} WHERE deleted AND indexed_at < :before"),
                {"before": before},
            )
            return int(result.rowcount)

    async def close(self) -> None:
        return None
