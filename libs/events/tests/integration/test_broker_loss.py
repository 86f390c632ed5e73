"""The broker drops every connection while events flow: all are processed, none lost, none
applied twice; and a message that keeps crashing consumers is parked by the quorum backstop."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractRobustConnection
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from devkit import servers as infra
from events import UnitOfWork
from events.catalog import Subscription
from events.contracts import UserRegisteredV1
from events.dlq import DeadLetterQueues
from events.runtime import BusRuntime
from events.settings import BusSettings
from events.tables import outbox
from events.testing import example_event, wait_for
from events.topology import declare_subscription

pytestmark = pytest.mark.integration

TOTAL = 400


async def test_connections_closed_mid_flow_lose_nothing_and_apply_nothing_twice(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    bus_settings: BusSettings,
    ledger: Any,
    make_router: Any,
) -> None:
    router = make_router(ledger)
    runtime = BusRuntime(service="loss", settings=bus_settings, engine=engine, router=router)
    await runtime.start()
    assert runtime.connection is not None
    reconnects: list[object] = []
    runtime.connection.reconnect_callbacks.add(lambda *_: reconnects.append(1))
    written: list[Any] = []
    vhost = bus_settings.amqp_url.get_secret_value().rsplit("/", 1)[1]

    async def produce() -> None:
        for _ in range(TOTAL // 20):
            batch = [example_event(UserRegisteredV1) for _ in range(20)]
            async with UnitOfWork(sessions) as uow:
                for event in batch:
                    await uow.publish_event(event)
                await uow.commit()
            written.extend(batch)
            await asyncio.sleep(0.02)  # pacing the producer, not waiting for an outcome

    producer = asyncio.create_task(produce())
    for cut in (TOTAL // 4, TOTAL // 2):
        await wait_for(
            lambda c=cut: len(ledger.calls) >= c,
            timeout=30,
            message=f"{cut} deliveries before cutting the connections",
        )
        await asyncio.to_thread(infra.close_connections, vhost)
    await producer
    assert len(reconnects) >= 1, "the broker never dropped the connection"

    async def all_applied() -> bool:
        return len(await ledger.applied()) == TOTAL

    await wait_for(all_applied, timeout=60, message=lambda: f"{len(ledger.calls)} calls so far")
    applied = await ledger.applied()
    assert set(applied) == {e.id for e in written}
    assert set(applied.values()) == {1}, "an event was applied twice"
    async with engine.connect() as conn:
        unpublished = (
            await conn.execute(
                select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            )
        ).scalar_one()
    assert unpublished == 0
    await wait_for(lambda: runtime.ready, timeout=10, message="the runtime recovered")
    ops = DeadLetterQueues(runtime.connection)  # type: ignore[arg-type]
    assert await ops.depth(router.routes[0].queue) == 0
    await runtime.stop()


async def test_a_message_that_keeps_crashing_consumers_is_parked_by_the_delivery_limit(
    connection: AbstractRobustConnection, bus_settings: BusSettings
) -> None:
    settings = bus_settings.model_copy(update={"delivery_limit": 2})
    sub = Subscription(f"p{uuid.uuid4().hex[:8]}", "h", (UserRegisteredV1,), "poison test")
    channel = await connection.channel()
    queue = await declare_subscription(channel, sub, settings)
    exchange = await channel.get_exchange(settings.exchange)
    event = example_event(UserRegisteredV1)
    await exchange.publish(
        aio_pika.Message(event.body(), message_id=str(event.id)), routing_key=event.type
    )
    # A consumer that dies before acking returns the message; a nack with requeue does the same.
    for _ in range(3):
        message = None

        async def got() -> bool:
            nonlocal message
            message = await queue.get(no_ack=False, fail=False)
            return message is not None

        await wait_for(got, timeout=10, message="the message came back")
        assert message is not None
        await message.nack(requeue=True)
    ops = DeadLetterQueues(connection)

    async def parked() -> bool:
        return await ops.depth(sub.queue) == 1

    await wait_for(parked, timeout=10, message="the delivery limit parked the message")
    [dead] = await ops.browse(sub.queue)
    assert dead.message_id == str(event.id)
    assert dead.reason == "delivery_limit"
    await channel.close()
