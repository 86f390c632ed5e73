"""Projections keep the newest version of an aggregate, whatever order its events arrive in."""

from __future__ import annotations

import asyncio
import random
import uuid

from sqlalchemy import Column, Integer, MetaData, Table, Text, Uuid, select
from sqlalchemy.ext.asyncio import AsyncEngine

from events import UnitOfWork
from events.db import session_factory

metadata = MetaData()
owners = Table(
    "owners",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", Text, nullable=False),
    Column("version", Integer, nullable=False),
)


async def apply(engine: AsyncEngine, owner: uuid.UUID, name: str, version: int) -> bool:
    async with UnitOfWork(session_factory(engine)) as tx:
        written = await tx.upsert_newer(owners, {"id": owner, "name": name, "version": version})
        await tx.commit()
    return written


async def stored(engine: AsyncEngine, owner: uuid.UUID) -> tuple[str, int]:
    async with engine.connect() as conn:
        row = (await conn.execute(select(owners.c.name, owners.c.version))).one()
    return row.name, row.version


async def test_an_older_or_repeated_version_changes_nothing(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    owner = uuid.uuid4()
    assert await apply(engine, owner, "Ada v2", 2)
    assert not await apply(engine, owner, "Ada v1", 1), "a late, older event"
    assert not await apply(engine, owner, "Ada v2 again", 2), "a duplicate"
    assert await stored(engine, owner) == ("Ada v2", 2)
    assert await apply(engine, owner, "Ada v3", 3)
    assert await stored(engine, owner) == ("Ada v3", 3)


async def test_racing_deliveries_in_any_order_leave_the_newest(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    owner = uuid.uuid4()
    versions = list(range(1, 21))
    random.shuffle(versions)
    await asyncio.gather(*(apply(engine, owner, f"v{v}", v) for v in versions))
    assert await stored(engine, owner) == ("v20", 20)
