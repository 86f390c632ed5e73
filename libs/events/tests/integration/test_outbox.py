"""The transactional outbox: nothing leaves without a commit, a crash republishes, the inbox
absorbs the duplicate, and relays side by side never publish the same row."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aio_pika.abc import AbstractRobustConnection
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from events import UnitOfWork
from events._amqp import Meta
from events.consumer import Consumer
from events.contracts import UserRegisteredV1
from events.outbox import OutboxRelay, RelaySettings
from events.publisher import RabbitPublisher
from events.settings import BusSettings
from events.tables import outbox
from events.testing import EventTap, example_event, wait_for

pytestmark = pytest.mark.integration


async def write_events(sessions: async_sessionmaker[AsyncSession], n: int) -> list[Any]:
    events = [example_event(UserRegisteredV1) for _ in range(n)]
    async with UnitOfWork(sessions) as uow:
        for event in events:
            await uow.publish_event(event)
        await uow.commit()
    return events


async def pending(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        query = select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        return int((await conn.execute(query)).scalar_one())


@pytest.fixture
async def publisher(connection: AbstractRobustConnection, bus_settings: BusSettings) -> Any:
    publisher = RabbitPublisher(connection, bus_settings)
    await publisher.start()
    yield publisher
    await publisher.close()


async def run_relay(relay: OutboxRelay) -> tuple[asyncio.Event, asyncio.Task[None]]:
    stop = asyncio.Event()
    return stop, asyncio.create_task(relay.run(stop))


async def test_a_rolled_back_transaction_publishes_nothing(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    publisher: RabbitPublisher,
    tap: EventTap,
) -> None:
    stop, task = await run_relay(OutboxRelay(engine, publisher))
    doomed = example_event(UserRegisteredV1)
    async with UnitOfWork(sessions) as uow:
        await uow.publish_event(doomed)
        # no commit: leaving the block rolls back
    [barrier] = await write_events(sessions, 1)
    # One relay publishes in outbox order: once the later barrier is out, the doomed event
    # would have been too.
    await tap.wait_for("user.registered.v1", lambda e: e.id == barrier.id)
    assert [e.id for e in tap.events()] == [barrier.id]
    stop.set()
    await task


async def test_the_relay_wakes_on_commit_not_on_the_poll(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    publisher: RabbitPublisher,
    tap: EventTap,
) -> None:
    relay = OutboxRelay(engine, publisher, RelaySettings(poll_interval_s=30))
    stop, task = await run_relay(relay)
    await wait_for(lambda: relay._listener is not None, timeout=5, message="LISTEN is set up")
    [event] = await write_events(sessions, 1)
    # With a 30 s poll, only the NOTIFY sent at commit can deliver this within the deadline.
    await tap.wait_for("user.registered.v1", lambda e: e.id == event.id, timeout=5)
    stop.set()
    await task


async def test_a_relay_killed_between_publish_and_mark_republishes_and_the_inbox_absorbs(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    connection: AbstractRobustConnection,
    bus_settings: BusSettings,
    publisher: RabbitPublisher,
    tap: EventTap,
    ledger: Any,
    make_router: Any,
    fresh_database: str,
) -> None:
    consumer = Consumer(connection, make_router(ledger), bus_settings)
    await consumer.start()
    [event] = await write_events(sessions, 1)

    crash = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            str(Path(__file__).with_name("relay_crash.py")),
            fresh_database,
            bus_settings.amqp_url.get_secret_value(),
            bus_settings.exchange,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert crash.returncode == -signal.SIGKILL, crash.stderr
    await tap.wait_for("user.registered.v1", lambda e: e.id == event.id)
    assert await pending(engine) == 1, "the crashed relay must not have marked the row"

    stop, task = await run_relay(OutboxRelay(engine, publisher))
    await wait_for(lambda: len(tap.events()) == 2, timeout=10, message="republished once")
    assert [e.id for e in tap.events()] == [event.id, event.id]

    async def both_delivered() -> bool:
        return len(ledger.calls) == 2 and await pending(engine) == 0

    await wait_for(both_delivered, timeout=10, message="both copies reached the handler")
    assert await ledger.applied() == {event.id: 1}
    stop.set()
    await task
    await consumer.stop()


class Recording:
    """Wraps the real publisher and records which relay published which event."""

    def __init__(self, inner: RabbitPublisher, log: list[tuple[str, str]], name: str) -> None:
        self.inner, self.log, self.name = inner, log, name

    @property
    def ready(self) -> bool:
        return self.inner.ready

    async def publish_body(self, meta: Meta, body: bytes) -> None:
        await self.inner.publish_body(meta, body)
        self.log.append((self.name, meta.id))


async def test_two_relays_side_by_side_never_publish_the_same_row(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    publisher: RabbitPublisher,
    tap: EventTap,
) -> None:
    events = await write_events(sessions, 600)
    log: list[tuple[str, str]] = []
    small_batches = RelaySettings(batch_size=25, poll_interval_s=0.05)
    runs = [
        await run_relay(OutboxRelay(engine, Recording(publisher, log, name), small_batches))
        for name in ("a", "b")
    ]

    async def drained() -> bool:
        return await pending(engine) == 0

    await wait_for(drained, timeout=30, message="both relays drained the outbox")
    for stop, task in runs:
        stop.set()
        await task
    ids = [event_id for _, event_id in log]
    assert len(ids) == len(set(ids)) == 600, "a row was published twice"
    assert set(ids) == {str(e.id) for e in events}
    by_relay = {name for name, _ in log}
    assert by_relay == {"a", "b"}, "both relays should have taken part"
    await wait_for(lambda: len(tap.events()) == 600, timeout=10, message="all 600 on the broker")


async def test_an_unroutable_event_waits_in_the_outbox_until_a_consumer_binds(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    connection: AbstractRobustConnection,
    bus_settings: BusSettings,
    publisher: RabbitPublisher,
    ledger: Any,
    make_router: Any,
) -> None:
    relay = OutboxRelay(engine, publisher, RelaySettings(poll_interval_s=0.05))
    stop, task = await run_relay(relay)
    [event] = await write_events(sessions, 1)  # nothing is bound to its type yet

    async def backed_off() -> bool:
        async with engine.connect() as conn:
            row = (await conn.execute(select(outbox.c.attempts, outbox.c.last_error))).one()
        return row.attempts >= 1 and "Unroutable" in (row.last_error or "")

    await wait_for(backed_off, timeout=10, message="the returned publish was recorded")
    consumer = Consumer(connection, make_router(ledger), bus_settings)
    await consumer.start()

    async def applied() -> bool:
        return await ledger.applied() == {event.id: 1}

    await wait_for(applied, timeout=15, message="published once a queue bound the type")
    assert await pending(engine) == 0
    stop.set()
    await task
    await consumer.stop()
