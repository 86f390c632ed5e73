"""Integration fixtures: a database with the bus tables and a ledger, a broker connection."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from aio_pika.abc import AbstractRobustConnection
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from events import UnitOfWork, create_bus_tables
from events.catalog import CATALOG, Subscription
from events.connection import connect
from events.contracts import UserRegisteredV1
from events.db import create_engine, session_factory
from events.retry import RetryPolicy
from events.routing import Delivery, Router
from events.settings import BusSettings
from events.testing import EventTap


@pytest.fixture
async def engine(fresh_database: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(fresh_database)
    async with engine.begin() as conn:
        await conn.run_sync(create_bus_tables)
        # The ledger counts how often each event's effect was applied: exactly once is correct.
        await conn.execute(
            text("CREATE TABLE ledger (event_id uuid PRIMARY KEY, applied int NOT NULL)")
        )
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest.fixture
async def connection(bus_settings: BusSettings) -> AsyncIterator[AbstractRobustConnection]:
    conn = await connect(bus_settings, "events-tests")
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def tap(
    connection: AbstractRobustConnection, bus_settings: BusSettings
) -> AsyncIterator[EventTap]:
    tap = await EventTap(connection, bus_settings.exchange).start()
    try:
        yield tap
    finally:
        await tap.stop()


class Ledger:
    """A handler that applies each event once, through the inbox, and counts its calls."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self.calls: list[Delivery[Any]] = []
        self.failing: Callable[[Delivery[Any]], Awaitable[None]] | None = None

    async def __call__(self, delivery: Delivery[Any]) -> None:
        self.calls.append(delivery)
        if self.failing is not None:
            await self.failing(delivery)
        async with UnitOfWork(self.sessions) as uow:
            if not await uow.claim(delivery):
                return
            connection = await uow.db.connection()
            await connection.execute(
                text(
                    "INSERT INTO ledger (event_id, applied) VALUES (:id, 1) ON CONFLICT (event_id)"
                    " DO UPDATE SET applied = ledger.applied + 1"
                ),
                {"id": delivery.event.id},
            )
            await uow.commit()

    async def applied(self) -> dict[uuid.UUID, int]:
        async with self.sessions() as session:
            connection = await session.connection()
            rows = (await connection.execute(text("SELECT event_id, applied FROM ledger"))).all()
        return {row.event_id: row.applied for row in rows}


@pytest.fixture
def ledger(sessions: async_sessionmaker[AsyncSession]) -> Ledger:
    return Ledger(sessions)


RouterFactory = Callable[..., Router]


@pytest.fixture
def make_router() -> RouterFactory:
    return one_queue_router


def one_queue_router(
    handler: Callable[[Delivery[Any]], Awaitable[None]],
    *,
    retry: RetryPolicy | None = None,
) -> Router:
    """A router of a fresh service with one queue for user.registered.v1."""
    service = f"t{uuid.uuid4().hex[:8]}"
    policy = retry or RetryPolicy(delays=(timedelta(milliseconds=50),), immediate=0, jitter=0)
    sub = Subscription(service, "ledger", (UserRegisteredV1,), "test ledger", policy)
    router = Router(service, CATALOG.with_subscriptions([sub]))
    router.on("ledger", UserRegisteredV1, handler)
    return router
