"""Monitoring, shown to work on the running platform: the metrics of a registration move by
exactly what it did; a dead-lettered message fires the DLQ alert in a real Prometheus and
reaches Sentry tagged with its queue, type and attempts; one trace spans the register request,
the outbox relay's publish and notify's email handler."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import aio_pika
import httpx
import pytest

from devkit.platform import Platform
from events import tracing
from events._amqp import Meta, build_message
from events.dlq import DeadLetterQueues
from events.testing import EventTap, Scrape, scrape, wait_for
from tests.e2e.flows import new_email, register, registered_user

QUEUE = "notify.signup_attempt_email"
"""The only consumer of user.signup_attempted.v1: a message parked here parks nowhere else."""


def ops_urls(platform: Platform, service: str) -> list[str]:
    """Both processes of a service (the api relays too, and serves its requests' metrics)."""
    return [platform.ops_url(service), f"http://127.0.0.1:{platform.admin_ports[service]}"]


async def scrape_all(platform: Platform) -> dict[str, Scrape]:
    return {s.name: await scrape(*ops_urls(platform, s.name)) for s in platform.services}


Expectation = tuple[str, str, dict[str, str], int]
EXPECTED: list[Expectation] = [
    # service, metric, labels, delta for one registration
    (
        "auth",
        "http_request_duration_seconds_count",
        {"route": "/auth/register", "status_class": "2xx"},
        1,
    ),
    ("auth", "events_published_total", {"event_type": "user.registered.v1"}, 1),
    ("auth", "events_published_total", {"event_type": "user.verification_requested.v1"}, 1),
    ("notify", "events_consumed_total", {"queue": "notify.welcome_email", "outcome": "ok"}, 1),
    ("notify", "events_consumed_total", {"queue": "notify.verification_email", "outcome": "ok"}, 1),
    ("notify", "notify_emails_total", {"transport": "smtp", "outcome": "sent"}, 2),
    ("notify", "events_published_total", {"event_type": "email.sent.v1"}, 2),
    (
        "auth",
        "events_consumed_total",
        {"queue": "auth.email_status", "event_type": "email.sent.v1", "outcome": "ok"},
        2,
    ),
    ("notify", "events_handler_seconds_count", {"queue": "notify.welcome_email"}, 1),
    ("notify", "events_handler_seconds_count", {"queue": "notify.welcome_email"}, 1),
    ("search", "events_consumed_total", {"queue": "search.owners", "outcome": "ok"}, 1),
    (
        "portfolio",
        "events_consumed_total",
        {"queue": "portfolio.owners", "event_type": "user.registered.v1", "outcome": "ok"},
        1,
    ),
]


def deltas(
    before: dict[str, Scrape], after: dict[str, Scrape], expected: list[Expectation]
) -> list[float]:
    return [
        after[service].total(metric, **labels) - before[service].total(metric, **labels)
        for service, metric, labels, _ in expected
    ]


async def test_a_registrations_metrics_move_by_exactly_what_it_did(
    platform: Platform, tap: EventTap, auth: httpx.AsyncClient
) -> None:
    running = {s.name for s in platform.services}  # all, unless E2E_SERVICES picks some
    wanted = [e for e in EXPECTED if e[0] in running]
    # Earlier tests' retries may still be settling: start from counters that stand still.
    previous = await scrape_all(platform)

    async def quiet() -> bool:
        nonlocal previous
        now = await scrape_all(platform)
        still = deltas(previous, now, wanted) == [0] * len(wanted)
        previous = now
        return still

    await wait_for(quiet, timeout=60, interval=1.0, message="the platform's counters settle")
    before = previous
    email = new_email()
    assert (await register(auth, email)).status_code == 202
    await registered_user(tap, email)
    expected = [delta for *_, delta in wanted]
    after: dict[str, Scrape] = {}

    async def counted() -> bool:
        nonlocal after
        after = await scrape_all(platform)
        return deltas(before, after, wanted) == expected

    def mismatches() -> str:
        got = deltas(before, after, wanted) if after else [0.0] * len(wanted)
        wrong = [(*e[:3], e[3], g) for e, g in zip(wanted, got, strict=True) if e[3] != g]
        return "expected vs counted: " + json.dumps(wrong)

    await wait_for(counted, timeout=30, interval=0.5, message=mismatches)


async def park_a_broken_signup_attempt(platform: Platform) -> str:
    """Publish a user.signup_attempted.v1 whose payload breaks its contract: parked at once."""
    assert platform.run is not None
    event_id = str(uuid.uuid4())
    meta = Meta(
        id=event_id,
        type="user.signup_attempted.v1",
        source="/auth",
        time=datetime.now(UTC),
        correlation_id=f"broken-{event_id[:8]}",
    )
    body = {
        "specversion": "1.0",
        "id": event_id,
        "source": "/auth",
        "type": meta.type,
        "time": meta.time.isoformat(),
        "correlationid": meta.correlation_id,
        "data": {"not": "the contract"},
    }
    connection = await aio_pika.connect_robust(platform.run.amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange("events")
        await exchange.publish(build_message(meta, json.dumps(body).encode()), meta.type)
    return event_id


async def test_a_dead_lettered_message_fires_the_dlq_alert_and_reaches_sentry(
    platform: Platform,
) -> None:
    prometheus = platform.prometheus
    if prometheus is None:
        pytest.fail(
            "Prometheus is not installed: run `bash scripts/prometheus.sh` (./platform does)",
            pytrace=False,
        )
    assert platform.run is not None
    connection = await aio_pika.connect_robust(platform.run.amqp_url)
    ops = DeadLetterQueues(connection)
    try:
        await ops.purge(QUEUE, note="e2e: start from an empty DLQ")

        async def quiet() -> bool:
            return not await prometheus.firing("DeadLetterQueueNotEmpty", queue=QUEUE)

        await wait_for(quiet, timeout=30, interval=0.5, message="no DLQ alert for the queue")
        event_id = await park_a_broken_signup_attempt(platform)

        async def firing() -> bool:
            return await prometheus.firing("DeadLetterQueueNotEmpty", queue=QUEUE)

        await wait_for(firing, timeout=60, interval=0.5, message="the DLQ alert firing")
        [alert] = [a for a in await prometheus.alerts() if a["labels"].get("queue") == QUEUE]
        assert alert["labels"]["service"] == "notify"
        assert float(alert["value"]) == 1

        def reported() -> list[dict[str, Any]]:
            return [
                e
                for e in platform.sentry.events()
                if e.get("tags", {}).get("queue") == QUEUE
                and e.get("contexts", {}).get("message", {}).get("x-original-routing-key")
                == "user.signup_attempted.v1"
                and event_id in json.dumps(e)
            ]

        await wait_for(lambda: bool(reported()), timeout=20, message="the Sentry event")
        tags = reported()[0]["tags"]
        assert tags["event_type"] == "user.signup_attempted.v1"
        assert tags["attempts"] == "1"
        assert tags["dead_letter_reason"] == "non_retryable"
        assert (tags["service"], tags["environment"]) == ("notify", "test")
    finally:
        await ops.purge(QUEUE, note="e2e: leave the DLQ empty")
        await connection.close()


async def test_one_trace_spans_the_register_request_the_relay_and_the_welcome_email(
    platform: Platform, tap: EventTap, auth: httpx.AsyncClient
) -> None:
    email = new_email()
    response = await register(auth, email)
    assert response.status_code == 202
    request_id = response.headers["x-request-id"]
    user_id = await registered_user(tap, email)
    event = await tap.wait_for("user.registered.v1", lambda e: e.subject == user_id)
    trace_id = tracing.trace_id_of(event.traceparent)
    assert trace_id is not None, "the event carries its request's trace"

    def spans() -> dict[tuple[str, str], dict[str, Any]]:
        return {
            (t["contexts"]["trace"]["op"], t["transaction"]): t
            for t in platform.sentry.transactions()
            if t["contexts"]["trace"]["trace_id"] == trace_id
        }

    wanted = {
        ("http.server", "POST /auth/register"),
        ("queue.publish", "user.registered.v1"),
        ("queue.process", "notify.welcome_email"),
    }
    await wait_for(
        lambda: wanted <= spans().keys(),
        timeout=30,
        message=lambda: f"transactions of trace {trace_id}: {sorted(spans())}",
    )
    found = spans()
    request = found[("http.server", "POST /auth/register")]
    assert request["tags"]["request_id"] == request_id
    assert request["tags"]["service"] == "auth"
    assert found[("queue.process", "notify.welcome_email")]["tags"]["service"] == "notify"
    handler = found[("queue.process", "notify.welcome_email")]["contexts"]["trace"]
    assert handler["status"] == "ok"
