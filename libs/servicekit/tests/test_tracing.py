"""One trace from a request to the handlers it causes: the request's transaction, the outbox
relay's publish and the consumer's handler run share the trace id the envelope carries (real
PostgreSQL outbox, real RabbitMQ)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import sentry_sdk

from events import UnitOfWork, create_bus_tables, tracing
from events.catalog import CATALOG, Subscription
from events.connection import connect
from events.consumer import Consumer
from events.contracts import UserRegisteredV1
from events.db import create_engine, session_factory
from events.outbox import OutboxRelay
from events.publisher import RabbitPublisher
from events.routing import Delivery, Router
from events.settings import BusSettings
from events.telemetry import init_sentry
from events.testing import SentryCapture, example, wait_for
from servicekit.http import create_app

pytestmark = pytest.mark.integration


@pytest.fixture
def sentry() -> Iterator[SentryCapture]:
    with SentryCapture() as capture:
        assert init_sentry(capture.dsn, service="auth", environment="test", traces_sample_rate=1)
        try:
            yield capture
        finally:
            sentry_sdk.init()
            tracing.enable(False)


@pytest.fixture
async def engine(fresh_database: str) -> AsyncIterator[Any]:
    engine = create_engine(fresh_database)
    async with engine.begin() as conn:
        await conn.run_sync(create_bus_tables)
    yield engine
    await engine.dispose()


async def test_one_trace_spans_the_request_the_relay_and_the_handler(
    sentry: SentryCapture, engine: Any, bus_settings: BusSettings
) -> None:
    sessions = session_factory(engine)
    handled: list[Delivery[Any]] = []

    async def welcome(delivery: Delivery[Any]) -> None:
        handled.append(delivery)

    service = f"t{uuid.uuid4().hex[:8]}"
    sub = Subscription(service, "welcome", (UserRegisteredV1,), "tracing test")
    router = Router(service, CATALOG.with_subscriptions([sub]))
    router.on("welcome", UserRegisteredV1, welcome)
    app = create_app(title="auth")

    @app.post("/register")
    async def register() -> dict[str, str]:
        async with UnitOfWork(sessions) as uow:
            event = await uow.publish(example(UserRegisteredV1), subject=None)
            await uow.commit()
        return {"traceparent": str(event.traceparent)}

    connection = await connect(bus_settings, "tracing-test")
    consumer = Consumer(connection, router, bus_settings, require_complete=False)
    await consumer.start()
    publisher = RabbitPublisher(connection, bus_settings)
    await publisher.start()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answer = await client.post("/register", headers={"X-Request-ID": "req-trace"})
        trace_id = tracing.trace_id_of(answer.json()["traceparent"])
        assert trace_id is not None
        assert await OutboxRelay(engine, publisher).relay_once() == 1
        await wait_for(lambda: bool(handled), timeout=10, message="the handler ran")
        assert tracing.trace_id_of(handled[0].event.traceparent) == trace_id
    finally:
        await consumer.stop()
        await publisher.close()
        await connection.close()
    sentry_sdk.flush(timeout=5)

    def of_trace() -> dict[str, dict[str, Any]]:
        return {
            t["contexts"]["trace"]["op"]: t
            for t in sentry.transactions()
            if t["contexts"]["trace"]["trace_id"] == trace_id
        }

    await wait_for(
        lambda: of_trace().keys() == {"http.server", "queue.publish", "queue.process"},
        timeout=10,
        message=lambda: f"transactions of the trace: {sorted(of_trace())}",
    )
    spans = of_trace()
    assert spans["http.server"]["transaction"] == "POST /register"
    assert spans["http.server"]["tags"]["request_id"] == "req-trace"
    assert spans["queue.publish"]["transaction"] == "user.registered.v1"
    assert spans["queue.process"]["transaction"] == sub.queue
    request_span = spans["http.server"]["contexts"]["trace"]["span_id"]
    assert spans["queue.publish"]["contexts"]["trace"]["parent_span_id"] == request_span
    assert spans["queue.process"]["contexts"]["trace"]["status"] == "ok"
