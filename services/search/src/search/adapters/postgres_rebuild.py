"""Rebuild the PostgreSQL index into a fresh table, then rename it in within one transaction.

Queries keep reading the live table until the swap's commit; the swap holds the live table's
ACCESS EXCLUSIVE lock only for a merge of recent writes and a few renames, so a reader waits
milliseconds and then reads the new table (PostgreSQL re-resolves a table name whose relation
changed while it waited for the lock). Live writes made since `begin` are merged in by version,
so an event handled during a long rebuild is not lost; older rows are expected to come from the
snapshot the caller loads (read after `begin_rebuild` returned).
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import AsyncConnection

from search.adapters.postgres_schema import DOCUMENTS, documents_table
from search.adapters.postgres_write import write
from search.index import ProgressCallback, SearchDocument


class _Settings(Protocol):
    @property
    def rebuild_timeout_s(self) -> float: ...


class PostgresSearchIndex(Protocol):
    """What a rebuild needs of the index (the index itself, typed without importing it)."""

    @property
    def settings(self) -> _Settings: ...

    def transaction(
        self, timeout_s: float | None = None
    ) -> AbstractAsyncContextManager[AsyncConnection]: ...


_COLUMNS = (
    "portfolio_id, version, deleted, owner_id, owner_name, title, description, item_titles, "
    "items, thumbnail, updated_at, v_title, v_head, vector, indexed_at"
)


class PostgresRebuild:
    def __init__(
        self,
        index: PostgresSearchIndex,
        table: str,
        began_at: datetime,
        progress: ProgressCallback | None,
    ) -> None:
        self.index = index
        self.table = table
        self.began_at = began_at
        self.progress = progress
        self.loaded = 0
        self.finished = False

    @classmethod
    async def begin(
        cls, index: PostgresSearchIndex, progress: ProgressCallback | None
    ) -> PostgresRebuild:
        table = f"{DOCUMENTS}_r{uuid.uuid4().hex[:10]}"
        async with index.transaction() as conn:
            began_at = (await conn.execute(text("SELECT clock_timestamp()"))).scalar_one()
            # Only the primary key while loading (ON CONFLICT needs it); the GIN and the
            # btree indexes are built once at commit, much faster than row by row.
            await conn.execute(text(f"CREATE TABLE {table} (LIKE {DOCUMENTS} INCLUDING DEFAULTS)"))
            await conn.execute(text(f"ALTER TABLE {table} ADD PRIMARY KEY (portfolio_id)"))
        return cls(index, table, began_at, progress)

    async def add_many(self, docs: Iterable[SearchDocument]) -> int:
        self._check_open()
        batch = list(docs)
        async with self.index.transaction(self.index.settings.rebuild_timeout_s) as conn:
            written = await write(conn, self.table, batch)
        self.loaded += len(batch)
        if self.progress is not None:
            outcome = self.progress(self.loaded)
            if inspect.isawaitable(outcome):
                await outcome
        return written

    async def commit(self) -> None:
        self._check_open()
        final = documents_table(MetaData(), self.table)
        timeout = self.index.settings.rebuild_timeout_s
        async with self.index.transaction(timeout) as conn:
            for index in final.indexes:
                await conn.run_sync(index.create)
        async with self.index.transaction(timeout) as conn:
            # Writers wait from here to the commit; readers until the DROP below.
            await conn.execute(text(f"LOCK TABLE {DOCUMENTS} IN SHARE ROW EXCLUSIVE MODE"))
            updates = ", ".join(
                f"{c} = excluded.{c}" for c in _COLUMNS.split(", ") if c != "portfolio_id"
            )
            await conn.execute(
                text(
                    f"INSERT INTO {self.table} AS d ({_COLUMNS}) "
                    f"SELECT {_COLUMNS} FROM {DOCUMENTS} WHERE indexed_at >= :began_at "
                    f"ON CONFLICT (portfolio_id) DO UPDATE SET {updates} "
                    "WHERE d.version < excluded.version"
                ),
                {"began_at": self.began_at},
            )
            await conn.execute(text(f"DROP TABLE {DOCUMENTS}"))
            await conn.execute(text(f"ALTER TABLE {self.table} RENAME TO {DOCUMENTS}"))
            await conn.execute(
                text(
                    f"ALTER TABLE {DOCUMENTS} RENAME CONSTRAINT {self.table}_pkey "
                    f"TO {DOCUMENTS}_pkey"
                )
            )
            for index in final.indexes:
                canonical = str(index.name).replace(self.table, DOCUMENTS)
                await conn.execute(text(f"ALTER INDEX {index.name} RENAME TO {canonical}"))
        self.finished = True

    async def abort(self) -> None:
        if self.finished:
            return
        async with self.index.transaction() as conn:
            await conn.execute(text(f"DROP TABLE IF EXISTS {self.table}"))
        self.finished = True

    def _check_open(self) -> None:
        if self.finished:
            raise RuntimeError(f"the rebuild into {self.table} is already committed or aborted")
