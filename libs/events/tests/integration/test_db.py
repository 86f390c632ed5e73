"""The database plumbing every service shares: a pooled connection that died while idle is
replaced before use, and a unit of work's events reach the outbox in one statement."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from events import UnitOfWork, db
from events.contracts import UserRegisteredV1
from events.tables import outbox
from events.testing import example_event

pytestmark = pytest.mark.integration


async def backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_connection_killed_while_idle_in_the_pool_is_replaced_before_use(
    engine: AsyncEngine, fresh_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)  # every returned connection counts as idle
    pooled = await backend_pid(engine)
    killer = db.create_engine(fresh_database, pool_size=1)
    try:
        async with killer.connect() as conn:
            killed = (
                await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pooled})
            ).scalar_one()
        assert killed, "the pooled connection was not terminated"
    finally:
        await killer.dispose()

    replacement = await backend_pid(engine)  # would raise if the dead connection were used
    assert replacement != pooled


async def test_a_busy_connection_is_not_pinged(engine: AsyncEngine) -> None:
    statements: list[str] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    first = await backend_pid(engine)
    second = await backend_pid(engine)  # checked out again at once: no ping in between
    assert first == second
    assert statements == ["SELECT pg_backend_pid()"] * 2


async def test_a_unit_of_works_events_are_written_in_one_statement_at_commit(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    inserts: list[str] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO OUTBOX"):
            inserts.append(statement)

    events = [example_event(UserRegisteredV1) for _ in range(3)]
    async with UnitOfWork(sessions) as uow:
        for published in events:
            await uow.publish_event(published)
        assert inserts == [], "nothing is written before the commit"
        await uow.commit()
    assert len(inserts) == 1

    async with engine.connect() as conn:
        rows = (await conn.execute(select(outbox.c.event_id).order_by(outbox.c.seq))).all()
    assert [r.event_id for r in rows] == [e.id for e in events]


async def test_events_of_a_rolled_back_unit_of_work_are_never_written(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with UnitOfWork(sessions) as uow:
        await uow.publish_event(example_event(UserRegisteredV1))
        await uow.rollback()
        kept = example_event(UserRegisteredV1)
        await uow.publish_event(kept)
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        await uow.publish_event(example_event(UserRegisteredV1))
        # leaving without a commit drops what was published

    async with engine.connect() as conn:
        count = (await conn.execute(select(func.count()).select_from(outbox))).scalar_one()
        ids = (await conn.execute(select(outbox.c.event_id))).scalars().all()
    assert (count, list(ids)) == (1, [kept.id])
