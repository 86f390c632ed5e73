"""The bus's metrics move by exactly what happened on the real broker and database: events
published, deliveries by outcome, retry levels, handler time, DLQ depth, outbox backlog."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from aio_pika.abc import AbstractRobustConnection
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from events import UnitOfWork
from events.consumer import Consumer
from events.contracts import UserRegisteredV1
from events.dlq import DeadLetterQueues
from events.dlq_depth import DlqDepthMonitor
from events.outbox import OutboxRelay
from events.publisher import RabbitPublisher
from events.retry import RetryPolicy
from events.routing import Delivery
from events.settings import BusSettings
from events.testing import example_event, scrape_registry, wait_for

pytestmark = pytest.mark.integration
TYPE = "user.registered.v1"


@pytest.fixture
async def publisher(connection: AbstractRobustConnection, bus_settings: BusSettings) -> Any:
    publisher = RabbitPublisher(connection, bus_settings)
    await publisher.start()
    yield publisher
    await publisher.close()


async def test_deliveries_are_counted_by_outcome_and_the_dlq_depth_is_reported(
    connection: AbstractRobustConnection,
    bus_settings: BusSettings,
    publisher: RabbitPublisher,
    ledger: Any,
    make_router: Any,
) -> None:
    async def fail_the_doomed(delivery: Delivery[Any]) -> None:
        if delivery.event.correlationid == "doomed":
            raise ConnectionError("smtp.example: connection refused")

    ledger.failing = fail_the_doomed
    policy = RetryPolicy(delays=(timedelta(milliseconds=50),) * 2, immediate=0, jitter=0)
    router = make_router(ledger, retry=policy)
    queue = router.routes[0].queue
    consumer = Consumer(connection, router, bus_settings)
    await consumer.start()
    monitor = DlqDepthMonitor(connection, [queue], interval_s=60)
    assert await monitor.poll_once() == {queue: 0}  # a second poll must see the change
    before = scrape_registry()
    try:
        fine = example_event(UserRegisteredV1)
        doomed = example_event(UserRegisteredV1, correlation_id="doomed")
        await publisher.publish(fine)
        await publisher.publish(fine)  # a duplicate: the inbox absorbs it
        await publisher.publish(doomed)  # fails 3 times: levels 1, 2, then the DLQ
        ops = DeadLetterQueues(connection)

        async def settled() -> bool:
            return await ops.depth(queue) == 1 and len(ledger.calls) == 5

        await wait_for(settled, timeout=20, message="two deliveries done, one parked")
        assert await monitor.poll_once() == {queue: 1}
    finally:
        await consumer.stop()
    after = scrape_registry()

    def moved(name: str, **labels: str) -> float:
        return after.total(name, **labels) - before.total(name, **labels)

    consumed = "events_consumed_total"
    assert moved("events_published_total", event_type=TYPE) == 3
    assert moved(consumed, queue=queue, outcome="ok") == 1
    assert moved(consumed, queue=queue, outcome="duplicate") == 1
    assert moved(consumed, queue=queue, outcome="retried") == 2
    assert moved(consumed, queue=queue, outcome="dead_lettered") == 1
    assert moved("events_retried_total", queue=queue, level="1") == 1
    assert moved("events_retried_total", queue=queue, level="2") == 1
    assert moved("events_dead_lettered_total", queue=queue, reason="retries_exhausted") == 1
    assert moved("events_handler_seconds_count", queue=queue, event_type=TYPE) == 5
    assert after.total("events_dlq_messages", queue=queue) == 1


async def test_the_outbox_backlog_its_age_and_the_relays_failures_are_reported(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    publisher: RabbitPublisher,
) -> None:
    events = [example_event(UserRegisteredV1) for _ in range(2)]
    async with UnitOfWork(sessions) as uow:
        for event in events:
            await uow.publish_event(event)
        await uow.commit()
    async with engine.begin() as conn:  # written a minute and a half ago
        await conn.execute(text("UPDATE outbox SET created_at = now() - interval '90 seconds'"))
    relay = OutboxRelay(engine, publisher)
    await relay._housekeeping()
    backlog = scrape_registry()
    assert backlog.total("events_outbox_pending") == 2
    assert 90 <= backlog.total("events_outbox_oldest_age_seconds") < 120

    # No queue is bound on this test's exchange: the broker returns both (mandatory publish).
    before = scrape_registry()
    assert await relay.relay_once() == 0
    after = scrape_registry()
    failed = "events_relay_publish_failed_total"
    assert after.total(failed, event_type=TYPE) - before.total(failed, event_type=TYPE) == 2
    unroutable = {"event_type": TYPE, "error": "unroutable"}
    publish_failed = "events_publish_failed_total"
    assert (
        after.total(publish_failed, **unroutable) - before.total(publish_failed, **unroutable) == 2
    )
    assert after.total("events_published_total", event_type=TYPE) == before.total(
        "events_published_total", event_type=TYPE
    )

    async with engine.begin() as conn:  # published after all (marked by hand: no queue here)
        await conn.execute(text("UPDATE outbox SET published_at = now()"))
    relay._last_gauge = float("-inf")
    await relay._housekeeping()
    drained = scrape_registry()
    assert drained.total("events_outbox_pending") == 0
    assert drained.total("events_outbox_oldest_age_seconds") == 0
