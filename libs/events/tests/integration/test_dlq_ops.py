"""Operator tools on a DLQ: filters by type, error and age; batched replay; purge; the audit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractRobustConnection

from events import failures
from events.catalog import Subscription
from events.contracts import UserRegisteredV1, UserVerifiedV1
from events.dlq import DeadLetterQueues, Filter
from events.settings import BusSettings
from events.testing import example_event
from events.topology import declare_subscription

pytestmark = pytest.mark.integration


async def park(
    connection: AbstractRobustConnection, queue: str, model: Any, error_type: str, age: timedelta
) -> str:
    event = example_event(model)
    channel = await connection.channel()
    await channel.default_exchange.publish(
        aio_pika.Message(
            event.body(),
            message_id=str(event.id),
            type=event.type,
            headers={
                failures.ERROR_TYPE: error_type,
                failures.ERROR: "boom",
                failures.REASON: "retries_exhausted",
                failures.ATTEMPTS: 3,
                failures.ORIGINAL_QUEUE: queue,
                failures.FAILED_AT: (datetime.now(UTC) - age).isoformat(),
            },
        ),
        routing_key=f"{queue}.dlq",
    )
    await channel.close()
    return str(event.id)


@pytest.fixture
async def queue(connection: AbstractRobustConnection, bus_settings: BusSettings) -> str:
    sub = Subscription(
        f"d{uuid.uuid4().hex[:8]}", "h", (UserRegisteredV1, UserVerifiedV1), "dlq ops test"
    )
    channel = await connection.channel()
    await declare_subscription(channel, sub, bus_settings)
    await channel.close()
    return sub.queue


async def test_filters_select_by_type_error_and_age(
    connection: AbstractRobustConnection, queue: str
) -> None:
    old_smtp = await park(
        connection, queue, UserRegisteredV1, "aiosmtplib.SMTPConnectError", timedelta(hours=3)
    )
    new_smtp = await park(
        connection, queue, UserRegisteredV1, "aiosmtplib.SMTPConnectError", timedelta(minutes=1)
    )
    other = await park(connection, queue, UserVerifiedV1, "KeyError", timedelta(minutes=1))
    ops = DeadLetterQueues(connection)

    async def ids(where: Filter) -> set[str | None]:
        return {m.message_id for m in await ops.browse(queue, where=where)}

    assert await ids(Filter()) == {old_smtp, new_smtp, other}
    assert await ids(Filter(event_type="user.verified.v1")) == {other}
    assert await ids(Filter(error_type="SMTPConnectError")) == {old_smtp, new_smtp}
    assert await ids(Filter(older_than=timedelta(hours=1))) == {old_smtp}
    assert await ids(Filter(newer_than=timedelta(hours=1))) == {new_smtp, other}
    assert await ops.depth(queue) == 3, "browsing must leave every message in place"


async def test_replay_in_batches_with_a_limit_and_progress(
    connection: AbstractRobustConnection, queue: str
) -> None:
    parked = [
        await park(connection, queue, UserRegisteredV1, "TimeoutError", timedelta(minutes=5))
        for _ in range(7)
    ]
    keep = await park(connection, queue, UserVerifiedV1, "KeyError", timedelta(minutes=5))
    ops = DeadLetterQueues(connection)
    progress: list[tuple[int, int]] = []
    record = await ops.replay(
        queue,
        where=Filter(event_type="user.registered.v1"),
        batch_size=3,
        limit=5,
        progress=lambda done, total: progress.append((done, total)),
    )
    assert record.message_ids == parked[:5]
    assert progress and progress[-1][1] == 8 and progress[0][0] <= progress[-1][0]
    remaining = {m.message_id for m in await ops.browse(queue)}
    assert remaining == {*parked[5:], keep}

    back: list[aio_pika.abc.AbstractIncomingMessage] = []
    channel = await connection.channel()
    main = await channel.declare_queue(queue, passive=True)
    while (message := await main.get(no_ack=True, fail=False)) is not None:
        back.append(message)
    assert [m.message_id for m in back] == parked[:5]
    for m in back:
        assert m.headers["x-attempt"] == 1
        assert m.headers["x-replay-id"] == record.audit_id
        assert failures.ERROR not in m.headers and failures.REASON not in m.headers
    await channel.close()


async def test_a_dry_run_moves_nothing_and_purge_drops_only_the_matches(
    connection: AbstractRobustConnection, queue: str
) -> None:
    a = await park(connection, queue, UserRegisteredV1, "KeyError", timedelta(minutes=1))
    b = await park(connection, queue, UserVerifiedV1, "KeyError", timedelta(minutes=1))
    ops = DeadLetterQueues(connection)
    dry = await ops.replay(queue, dry_run=True)
    assert set(dry.message_ids) == {a, b}
    assert await ops.depth(queue) == 2
    purged = await ops.purge(queue, where=Filter(event_type="user.registered.v1"), note="obsolete")
    assert purged.message_ids == [a]
    assert {m.message_id for m in await ops.browse(queue)} == {b}
    audit = [r for r in await ops.audit_log() if r["queue"] == f"{queue}.dlq"]
    assert [r["action"] for r in audit] == ["replay-dry-run", "purge"]
    assert audit[1]["message_ids"] == [a] and audit[1]["note"] == "obsolete"
