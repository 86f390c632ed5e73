"""The worker on the real RabbitMQ with the real SMTP server: retries on the backoff schedule,
permanent refusals, and giving up into the DLQ with email.failed.v1 and a Sentry alert."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import sentry_sdk
from aio_pika.abc import AbstractRobustConnection
from pydantic import SecretStr

from events import RabbitPublisher, RawEvent, failures
from events.connection import connect
from events.contracts import UserRegisteredV1, UserVerificationRequestedV1
from events.dlq import DeadLetterQueues
from events.settings import BusSettings
from events.telemetry import init_sentry
from events.testing import EventTap, SentryCapture, example_event, wait_for
from notify.bootstrap import SERVICE
from notify.container import Container, build
from notify.testing import SmtpServer, settings_for, smtp_settings
from servicekit.testing import running_worker

# The email policy (1 min .. 6 h, immediate retry) shrunk 5000 times: 12 ms .. 4.3 s.
SCALE = 1 / 5000


@pytest.fixture
def bus(amqp_vhost: str) -> BusSettings:
    return BusSettings(
        amqp_url=SecretStr(amqp_vhost),
        exchange=f"events.{uuid.uuid4().hex[:8]}",
        reconnect_interval_s=0.2,
        retry_time_scale=SCALE,
    )


@pytest.fixture
async def worker(database: str, smtp: SmtpServer, bus: BusSettings) -> AsyncIterator[Container]:
    container = build(settings_for(database, bus=bus, smtp=smtp_settings(smtp)))
    async with running_worker(SERVICE, container):
        yield container


@pytest.fixture
async def connection(bus: BusSettings) -> AsyncIterator[AbstractRobustConnection]:
    conn = await connect(bus, "notify-tests")
    yield conn
    await conn.close()


@pytest.fixture
async def tap(connection: AbstractRobustConnection, bus: BusSettings) -> AsyncIterator[EventTap]:
    tap = await EventTap(connection, bus.exchange).start()
    yield tap
    await tap.stop()


async def publish(connection: AbstractRobustConnection, bus: BusSettings, event: Any) -> None:
    producer = RabbitPublisher(connection, bus)
    await producer.start()
    await producer.publish(event)
    await producer.close()


def failure_of(recipient: str, template: str) -> Callable[[RawEvent], bool]:
    return lambda e: e.data["recipient"] == recipient and e.data["template"] == template


async def test_451_twice_then_accepted_is_retried_and_delivered_once(
    worker: Container,
    smtp: SmtpServer,
    connection: AbstractRobustConnection,
    bus: BusSettings,
    tap: EventTap,
) -> None:
    smtp.fail_next(2)  # the first delivery and its immediate retry
    event = example_event(UserRegisteredV1, email="slow@example.org")
    await publish(connection, bus, event)
    sent = await tap.wait_for(
        "email.sent.v1", lambda e: e.data["cause_event_id"] == str(event.id), timeout=20
    )
    assert [code for _, address, code in smtp.answers if address == "slow@example.org"] == [
        "451",
        "451",
        "250",
    ]
    assert len(smtp.to("slow@example.org")) == 1
    assert sent.correlationid == event.correlationid
    async with worker.engine.connect() as conn:
        from sqlalchemy import text

        attempts = (await conn.execute(text("SELECT attempts FROM emails"))).scalar_one()
    assert attempts == 3


async def test_550_is_permanent_with_no_retry(
    worker: Container,
    smtp: SmtpServer,
    connection: AbstractRobustConnection,
    bus: BusSettings,
    tap: EventTap,
) -> None:
    smtp.refuse("nobody@example.org")
    event = example_event(UserRegisteredV1, email="nobody@example.org")
    await publish(connection, bus, event)
    failed = await tap.wait_for("email.failed.v1", timeout=20)
    assert failed.data["reason"] == "permanent"
    assert [c for _, a, c in smtp.answers if a == "nobody@example.org"] == ["550"]
    assert await DeadLetterQueues(connection).depth("notify.welcome_email") == 0


async def test_a_server_down_past_the_retries_parks_the_message_and_says_so(
    worker: Container,
    smtp: SmtpServer,
    connection: AbstractRobustConnection,
    bus: BusSettings,
    tap: EventTap,
) -> None:
    await smtp.stop()
    with SentryCapture() as sentry:
        init_sentry(sentry.dsn, service="notify", environment="test", release="9.9.9")
        try:
            event = example_event(
                UserRegisteredV1, email="later@example.org", correlation_id="signup-later"
            )
            token = uuid.uuid4().hex + uuid.uuid4().hex
            verification = example_event(
                UserVerificationRequestedV1, email="later@example.org", token=token
            )
            await publish(connection, bus, event)
            await publish(connection, bus, verification)
            failed = {
                template: await tap.wait_for(
                    "email.failed.v1", failure_of("later@example.org", template), timeout=30
                )
                for template in ("welcome", "verification")
            }
            assert failed["welcome"].data["reason"] == "retries_exhausted"
            assert failed["welcome"].causationid == str(event.id)
            assert failed["verification"].data["user_id"] == str(verification.data.user_id)
            ops = DeadLetterQueues(connection)

            async def parked() -> bool:
                return (
                    await ops.depth("notify.welcome_email") == 1
                    and await ops.depth("notify.verification_email") == 1
                )

            await wait_for(parked, timeout=10, message="both emails reached their DLQs")
            [dead] = await ops.browse("notify.welcome_email")
            assert dead.message_id == str(event.id)
            assert dead.headers[failures.ATTEMPTS] == 6
            assert dead.headers[failures.REASON] == "retries_exhausted"
            assert "TransientSendError" in dead.headers[failures.ERROR_TYPE]
            sentry_sdk.flush(5)
            queues = ("notify.welcome_email", "notify.verification_email")
            await wait_for(
                lambda: {e.get("tags", {}).get("queue") for e in sentry.events()} >= set(queues),
                timeout=10,
                message="Sentry heard of both parked messages",
            )
            [welcome] = [
                e for e in sentry.events() if e["tags"].get("queue") == "notify.welcome_email"
            ]
            tags = welcome["tags"]
            assert {k: tags.get(k) for k in ("service", "environment", "release")} == {
                "service": "notify",
                "environment": "test",
                "release": "9.9.9",
            }
            assert (tags["event_type"], tags["attempts"]) == ("user.registered.v1", "6")
            assert (tags["correlation_id"], tags["event_id"]) == ("signup-later", str(event.id))
            assert tags["dead_letter_reason"] == "retries_exhausted"
            # The alert names the failure, never the secret the event carried.
            [dead_verification] = await ops.browse("notify.verification_email")
            assert token not in json.dumps(sentry.events())
            assert token not in json.dumps(
                {k: str(v) for k, v in dead_verification.headers.items()}
            )
        finally:
            init_sentry(None, service="notify", environment="test")
            sentry_sdk.init(dsn=None)
    assert smtp.messages == []


def test_the_router_covers_every_subscription_the_catalog_gives_notify(
    container: Container,
) -> None:
    assert SERVICE.router(container).missing() == []
