"""A failing handler climbs the delay levels, lands in its DLQ with fault headers, and a replay
after the fix processes it exactly once."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

import pytest
from aio_pika.abc import AbstractRobustConnection

from events import failures
from events.consumer import Consumer
from events.contracts import UserRegisteredV1
from events.dlq import DeadLetterQueues
from events.publisher import RabbitPublisher
from events.retry import RetryPolicy
from events.routing import Delivery
from events.settings import BusSettings
from events.testing import example_event, wait_for

pytestmark = pytest.mark.integration

DELAYS = (timedelta(milliseconds=300), timedelta(milliseconds=600), timedelta(milliseconds=1200))


def cli(bus_settings: BusSettings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "events",
            "--url",
            bus_settings.amqp_url.get_secret_value(),
            "--exchange",
            bus_settings.exchange,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )


async def test_retries_climb_the_levels_then_park_then_replay_once(
    connection: AbstractRobustConnection, bus_settings: BusSettings, ledger: Any, make_router: Any
) -> None:
    calls: list[tuple[int, float]] = []

    async def broken(delivery: Delivery[Any]) -> None:
        calls.append((delivery.attempt, time.monotonic()))
        raise ConnectionError("smtp.example: connection refused")

    ledger.failing = broken
    policy = RetryPolicy(
        delays=DELAYS, immediate=1, immediate_backoff=timedelta(milliseconds=10), jitter=0
    )
    router = make_router(ledger, retry=policy)
    queue = router.routes[0].queue
    consumer = Consumer(connection, router, bus_settings)
    await consumer.start()
    publisher = RabbitPublisher(connection, bus_settings)
    await publisher.start()
    event = example_event(UserRegisteredV1, correlation_id="corr-retry")
    await publisher.publish(event)

    ops = DeadLetterQueues(connection)

    async def parked() -> bool:
        return await ops.depth(queue) == 1

    await wait_for(parked, timeout=20, message="the message reached the DLQ")

    # Each delivery is tried twice in process (one immediate retry), attempts 1..4.
    assert [a for a, _ in calls] == [1, 1, 2, 2, 3, 3, 4, 4]
    firsts = {a: t for a, t in reversed(calls)}
    lasts = {a: t for a, t in calls}
    for level, delay in enumerate(DELAYS, start=1):
        gap = firsts[level + 1] - lasts[level]
        assert gap >= delay.total_seconds() * 0.95, f"level {level} waited {gap:.3f}s"
        assert gap < delay.total_seconds() + 1.5, f"level {level} waited {gap:.3f}s"

    [dead] = await ops.browse(queue)
    headers = dead.headers
    assert dead.message_id == str(event.id)
    assert headers[failures.ERROR_TYPE] == "ConnectionError"
    assert headers[failures.ERROR] == "smtp.example: connection refused"
    assert "ConnectionError" in headers[failures.ERROR_STACK]
    assert headers[failures.ATTEMPTS] == 4
    assert headers[failures.ORIGINAL_QUEUE] == queue
    assert headers[failures.ORIGINAL_ROUTING_KEY] == "user.registered.v1"
    assert headers[failures.REASON] == "retries_exhausted"
    assert headers[failures.FIRST_FAILED_AT] <= headers[failures.FAILED_AT]
    assert headers[failures.FAILED_HOST]
    assert await ledger.applied() == {}

    listing = cli(bus_settings, "dlq", "list", queue, "--json")
    assert listing.returncode == 0, listing.stderr
    assert json.loads(listing.stdout)[0]["message_id"] == str(event.id)
    shown = cli(bus_settings, "dlq", "show", queue, str(event.id))
    assert shown.returncode == 0, shown.stderr
    assert "retries_exhausted" in shown.stdout

    # The fix is deployed; the operator replays, filtered by type and error.
    ledger.failing = None
    replay = cli(
        bus_settings,
        "dlq",
        "replay",
        queue,
        "--event-type",
        "user.registered.v1",
        "--error-type",
        "ConnectionError",
        "--note",
        "smtp is back",
    )
    assert replay.returncode == 0, replay.stderr
    assert "replayed 1 message(s)" in replay.stdout

    async def applied_once() -> bool:
        return await ledger.applied() == {event.id: 1}

    await wait_for(applied_once, timeout=10, message="the replayed event was applied")
    assert calls[-1][0] == 4  # the replay is a fresh first attempt: no more failures recorded
    assert ledger.calls[-1].attempt == 1
    assert await ops.depth(queue) == 0

    audit = await ops.audit_log()
    record = next(r for r in audit if r["queue"] == f"{queue}.dlq" and r["action"] == "replay")
    assert record["message_ids"] == [str(event.id)]
    assert record["filters"] == {
        "event_type": "user.registered.v1",
        "error_type": "ConnectionError",
    }
    assert record["note"] == "smtp is back" and record["operator"] and record["finished_at"]
    await consumer.stop()
    await publisher.close()
    await asyncio.sleep(0)


async def test_a_malformed_payload_goes_to_the_dlq_without_retries(
    connection: AbstractRobustConnection, bus_settings: BusSettings, ledger: Any, make_router: Any
) -> None:
    router = make_router(ledger)
    queue = router.routes[0].queue
    consumer = Consumer(connection, router, bus_settings)
    await consumer.start()
    publisher = RabbitPublisher(connection, bus_settings)
    await publisher.start()
    body = example_event(UserRegisteredV1).body().replace(b'"email"', b'"e_mail"')
    from events._amqp import Meta, build_message

    assert publisher._exchange is not None
    meta = Meta("m-1", "user.registered.v1", "/auth", example_event(UserRegisteredV1).time, "c")
    await publisher._exchange.publish(build_message(meta, body), routing_key=meta.type)
    ops = DeadLetterQueues(connection)

    async def parked() -> bool:
        return await ops.depth(queue) == 1

    await wait_for(parked, timeout=10, message="the malformed message was parked")
    [dead] = await ops.browse(queue)
    assert dead.reason == "non_retryable"
    assert dead.error_type == "events.errors.ContractViolation"
    assert "email" in (dead.error or "")
    assert dead.headers[failures.ATTEMPTS] == 1
    assert ledger.calls == []
    await consumer.stop()
    await publisher.close()
