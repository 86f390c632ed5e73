"""Projections of other services' aggregates: apply an event only if it is newer than what is kept.

Events of one aggregate may arrive late, twice or out of order (two relays, a retry, a replay).
Each carries the aggregate's version; the conditional upsert below keeps the newest state in one
statement, so two deliveries racing each other cannot interleave a read and a write.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession


def _table(model: type[Any]) -> Table:
    table = getattr(model, "__table__", model)
    if not isinstance(table, Table):
        raise TypeError(f"{model!r} is not a table")
    return table


async def upsert_newer(
    session: AsyncSession, model: type[Any], values: dict[str, Any], *, version: str = "version"
) -> bool:
    """Insert the row, or update it where the stored version is lower; True if it was written."""
    table = _table(model)
    keys = [column.name for column in table.primary_key.columns]
    insert_row = insert(table).values(**values)
    changed = {name: insert_row.excluded[name] for name in values if name not in keys}
    statement = insert_row.on_conflict_do_update(
        index_elements=keys,
        set_=changed,
        where=table.c[version] < insert_row.excluded[version],
    ).returning(*table.primary_key.columns)
    connection = await session.connection()
    return (await connection.execute(statement)).first() is not None
