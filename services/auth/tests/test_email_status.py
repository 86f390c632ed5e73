"""auth.email_status: notify's outcomes become each account's email deliverability."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from pydantic import SecretStr

from auth.bootstrap import SERVICE
from auth.container import Container, build
from auth.handlers import email_status
from auth.testing import Outbox, active_user, login, settings_for
from events import RabbitPublisher
from events.connection import connect
from events.contracts import EmailBouncedV1, EmailFailedV1, EmailSentV1
from events.settings import BusSettings
from events.testing import InMemoryBus, delivery, example_event, wait_for
from servicekit.testing import running_worker


async def me(client: httpx.AsyncClient, email: str) -> dict[str, object]:
    token = (await login(client, email)).json()["access_token"]
    response = await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    result: dict[str, object] = response.json()
    return result


async def test_sent_then_bounced_marks_the_address_undeliverable(
    client: httpx.AsyncClient, container: Container, outbox: Outbox
) -> None:
    user_id, email = await active_user(client, outbox)
    now = datetime.now(UTC)
    sent = example_event(EmailSentV1, user_id=uuid.UUID(user_id), recipient=email, sent_at=now)
    await container.bound(email_status.record_email_outcome)(delivery(sent, "auth.email_status"))
    assert (await me(client, email))["email_status"] == "sent"

    bounced = example_event(
        EmailBouncedV1,
        recipient=email.upper(),
        kind="bounce",
        bounced_at=now + timedelta(minutes=1),
    )
    handle = container.bound(email_status.record_email_outcome)
    await handle(delivery(bounced, "auth.email_status"))
    await handle(delivery(bounced, "auth.email_status", attempt=2))  # a duplicate delivery
    status = await me(client, email)
    assert (status["email_status"], status["email_deliverable"]) == ("bounced", False)

    later_send = example_event(
        EmailSentV1, user_id=uuid.UUID(user_id), recipient=email, sent_at=now + timedelta(minutes=2)
    )
    await container.bound(email_status.record_email_outcome)(
        delivery(later_send, "auth.email_status")
    )
    assert (await me(client, email))["email_status"] == "bounced", "a send does not undo a bounce"


async def test_a_late_outcome_does_not_overwrite_a_newer_one(
    client: httpx.AsyncClient, container: Container, outbox: Outbox
) -> None:
    user_id, email = await active_user(client, outbox)
    now = datetime.now(UTC)
    failed = example_event(
        EmailFailedV1,
        user_id=uuid.UUID(user_id),
        recipient=email,
        reason="permanent",
        detail="550 no such user",
        failed_at=now,
    )
    await container.bound(email_status.record_email_outcome)(delivery(failed, "auth.email_status"))
    old_sent = example_event(
        EmailSentV1, user_id=uuid.UUID(user_id), recipient=email, sent_at=now - timedelta(hours=1)
    )
    await container.bound(email_status.record_email_outcome)(
        delivery(old_sent, "auth.email_status")
    )
    status = await me(client, email)
    assert (status["email_status"], status["email_deliverable"]) == ("failed", False)


async def test_the_worker_consumes_a_bounce_from_rabbitmq(
    database: str, amqp_vhost: str, client: httpx.AsyncClient, outbox: Outbox
) -> None:
    bus = BusSettings(
        amqp_url=SecretStr(amqp_vhost),
        exchange=f"events.{uuid.uuid4().hex[:8]}",
        reconnect_interval_s=0.2,
    )
    _, email = await active_user(client, outbox)
    worker = build(settings_for(database, bus=bus))
    async with running_worker(SERVICE, worker):
        connection = await connect(bus, "auth-test-producer")
        producer = RabbitPublisher(connection, bus)
        await producer.start()
        await producer.publish(example_event(EmailBouncedV1, recipient=email, kind="spamreport"))

        async def marked() -> bool:
            return (await me(client, email))["email_status"] == "bounced"

        await wait_for(marked, timeout=15, message="the bounce reached the account")
        await connection.close()


def test_the_router_covers_every_subscription_the_catalog_gives_auth(
    container: Container,
) -> None:
    assert SERVICE.router(container).missing() == []


async def test_the_router_binds_every_outcome_through_the_in_memory_bus(
    client: httpx.AsyncClient, container: Container, outbox: Outbox
) -> None:
    user_id, email = await active_user(client, outbox)
    bus = InMemoryBus()
    bus.include(SERVICE.router(container))
    suppressed = example_event(
        EmailFailedV1,
        user_id=uuid.UUID(user_id),
        recipient=email,
        reason="suppressed",
        detail="the address bounced before",
    )
    stranger = example_event(EmailBouncedV1, recipient="stranger@example.org", kind="bounce")
    await bus.publish(suppressed)
    await bus.publish(stranger)
    await bus.publish_raw("email.bounced.v1", b'{"type": "email.bounced.v1", "data": {}}')
    await bus.drain()
    assert [e.id for e in bus.handled["auth.email_status"]] == [suppressed.id, stranger.id]
    assert len(bus.dead_letters) == 1, "a body that breaks the contract is parked, not handled"
    status = await me(client, email)
    assert (status["email_status"], status["email_deliverable"]) == ("bounced", False)
