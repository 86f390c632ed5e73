"""Operator tools for dead-letter queues: list, show, replay with filters, purge; all audited.

Browsing takes messages without acking them and closes the channel, which returns them to the
queue; replay republishes each chosen message to its handler's own queue (never the exchange, so
other subscribers do not see it twice) with a confirm, and only then acks it off the DLQ.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection

from events import failures
from events._amqp import ATTEMPT, copy_message

AUDIT_QUEUE = "dlq.audit"
REPLAY_ID = "x-replay-id"
REPLAYED_AT = "x-replayed-at"
REPLAYED_BY = "x-replayed-by"
REPLAY_COUNT = "x-replay-count"
_FAULT_HEADERS = (
    failures.ERROR,
    failures.ERROR_TYPE,
    failures.ERROR_STACK,
    failures.ATTEMPTS,
    failures.FIRST_FAILED_AT,
    failures.FAILED_AT,
    failures.FAILED_HOST,
    failures.REASON,
    failures.ORIGINAL_QUEUE,
)


def dlq_name(queue: str) -> str:
    """Accept `notify.welcome_email` or `notify.welcome_email.dlq`."""
    return queue if queue.endswith(".dlq") else f"{queue}.dlq"


@dataclass(frozen=True)
class DeadMessage:
    """A parked message as an operator sees it."""

    message_id: str | None
    event_type: str | None
    original_queue: str
    error_type: str | None
    error: str | None
    reason: str | None
    attempts: Any
    failed_at: datetime | None
    headers: dict[str, Any]
    body: bytes

    @classmethod
    def of(cls, message: AbstractIncomingMessage, dlq: str) -> DeadMessage:
        headers = dict(message.headers or {})
        failed_at = headers.get(failures.FAILED_AT)
        when: datetime | None = None
        if isinstance(failed_at, str):
            try:
                when = datetime.fromisoformat(failed_at)
            except ValueError:
                when = None
        if when is None and message.timestamp is not None:
            when = message.timestamp.replace(tzinfo=message.timestamp.tzinfo or UTC)
        reason = headers.get(failures.REASON)
        if reason is None and "x-death" in headers:
            reason = "delivery_limit"  # the quorum backstop parked it: no fault headers
        return cls(
            message_id=message.message_id,
            event_type=message.type,
            original_queue=str(headers.get(failures.ORIGINAL_QUEUE) or dlq.removesuffix(".dlq")),
            error_type=_str(headers.get(failures.ERROR_TYPE)),
            error=_str(headers.get(failures.ERROR)),
            reason=_str(reason),
            attempts=headers.get(failures.ATTEMPTS),
            failed_at=when,
            headers=headers,
            body=message.body,
        )

    def summary(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "event_type": self.event_type,
            "reason": self.reason,
            "error_type": self.error_type,
            "error": (self.error or "")[:120],
            "attempts": self.attempts,
            "failed_at": self.failed_at.isoformat() if self.failed_at else None,
        }


def _str(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class Filter:
    """Which parked messages an operation applies to; every given criterion must hold."""

    event_type: str | None = None
    error_type: str | None = None
    older_than: timedelta | None = None
    newer_than: timedelta | None = None
    message_ids: frozenset[str] = frozenset()

    def matches(self, msg: DeadMessage, now: datetime) -> bool:
        if self.event_type and msg.event_type != self.event_type:
            return False
        if self.error_type and not (msg.error_type or "").endswith(self.error_type):
            return False
        if self.message_ids and msg.message_id not in self.message_ids:
            return False
        age = now - msg.failed_at if msg.failed_at else None
        if self.older_than is not None and (age is None or age < self.older_than):
            return False
        return not (self.newer_than is not None and (age is None or age > self.newer_than))

    def describe(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if v}
        for key in ("older_than", "newer_than"):
            if key in out:
                out[key] = str(out[key])
        if "message_ids" in out:
            out["message_ids"] = sorted(out["message_ids"])
        return out


@dataclass
class AuditRecord:
    """Who replayed or purged what, when: kept on the durable `dlq.audit` queue."""

    action: str
    queue: str
    filters: dict[str, Any]
    operator: str = field(default_factory=getpass.getuser)
    host: str = field(default_factory=socket.gethostname)
    audit_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    finished_at: str | None = None
    message_ids: list[str | None] = field(default_factory=list)
    note: str | None = None


Progress = Callable[[int, int], None]
"""Called with (done, total) as a replay advances."""


class DeadLetterQueues:
    """The operations behind `python -m events dlq`."""

    def __init__(self, connection: AbstractRobustConnection, *, timeout_s: float = 10.0) -> None:
        self._connection = connection
        self._timeout = timeout_s

    @asynccontextmanager
    async def _channel(self, *, confirms: bool = False) -> AsyncIterator[AbstractChannel]:
        channel = await self._connection.channel(
            publisher_confirms=confirms, on_return_raises=confirms
        )
        try:
            yield channel
        finally:
            if not channel.is_closed:
                await channel.close()  # returns every unacked message to its queue

    async def depth(self, queue: str) -> int:
        async with self._channel() as channel:
            declared = await channel.declare_queue(dlq_name(queue), passive=True)
            return int(declared.declaration_result.message_count or 0)

    async def browse(
        self, queue: str, *, limit: int = 100, where: Filter | None = None
    ) -> list[DeadMessage]:
        """Up to `limit` parked messages matching `where`; all stay in the queue."""
        name = dlq_name(queue)
        found: list[DeadMessage] = []
        now = datetime.now(UTC)
        async with self._channel() as channel:
            dlq = await channel.declare_queue(name, passive=True)
            while len(found) < limit:
                message = await dlq.get(no_ack=False, fail=False, timeout=self._timeout)
                if message is None:
                    break
                msg = DeadMessage.of(message, name)
                if where is None or where.matches(msg, now):
                    found.append(msg)
        return found

    async def show(self, queue: str, message_id: str) -> DeadMessage | None:
        matches = await self.browse(
            queue, limit=1, where=Filter(message_ids=frozenset({message_id}))
        )
        return matches[0] if matches else None

    async def replay(
        self,
        queue: str,
        *,
        where: Filter | None = None,
        batch_size: int = 50,
        limit: int | None = None,
        dry_run: bool = False,
        note: str | None = None,
        progress: Progress | None = None,
    ) -> AuditRecord:
        """Send matching messages back to their handler's queue as first attempts, audited."""
        name = dlq_name(queue)
        where = where or Filter()
        record = AuditRecord(
            "replay" if not dry_run else "replay-dry-run", name, where.describe(), note=note
        )
        total = await self.depth(queue)
        now = datetime.now(UTC)
        seen = 0
        batch: list[tuple[AbstractIncomingMessage, DeadMessage]] = []

        async def flush() -> None:
            if batch and not dry_run:
                await self._republish(channel, batch, record)
            record.message_ids.extend(msg.message_id for _, msg in batch)
            batch.clear()
            if progress:
                progress(seen, total)

        async with self._channel(confirms=True) as channel:
            dlq = await channel.declare_queue(name, passive=True)
            # Only the messages present at the start: one that fails again after its replay is
            # parked at the tail, and must not be replayed twice in one pass.
            while seen < total and (limit is None or len(record.message_ids) + len(batch) < limit):
                message = await dlq.get(no_ack=False, fail=False, timeout=self._timeout)
                if message is None:
                    break
                seen += 1
                msg = DeadMessage.of(message, name)
                # A message that does not match stays unacked until the channel closes, so this
                # pass does not meet it again.
                if where.matches(msg, now):
                    batch.append((message, msg))
                if len(batch) >= batch_size:
                    await flush()
            await flush()
        record.finished_at = datetime.now(UTC).isoformat()
        await self._audit(record)
        return record

    async def _republish(
        self,
        channel: AbstractChannel,
        batch: list[tuple[AbstractIncomingMessage, DeadMessage]],
        record: AuditRecord,
    ) -> None:
        publishes = []
        for message, msg in batch:
            headers = {
                k: v for k, v in failures.clean(message.headers).items() if k not in _FAULT_HEADERS
            }
            headers.update(
                {
                    ATTEMPT: 1,
                    REPLAY_ID: record.audit_id,
                    REPLAYED_AT: datetime.now(UTC).isoformat(),
                    REPLAYED_BY: record.operator,
                    REPLAY_COUNT: int(msg.headers.get(REPLAY_COUNT, 0) or 0) + 1,
                }
            )
            publishes.append(
                channel.default_exchange.publish(
                    copy_message(message, headers),
                    routing_key=msg.original_queue,
                    timeout=self._timeout,
                )
            )
        # Confirms first, acks after: a crash in between leaves a copy in both queues, which the
        # handler's inbox absorbs; the opposite order could lose the message.
        await asyncio.gather(*publishes)
        for message, _ in batch:
            await message.ack()

    async def purge(
        self, queue: str, *, where: Filter | None = None, note: str | None = None
    ) -> AuditRecord:
        """Drop matching parked messages for good (all of them without a filter), audited."""
        name = dlq_name(queue)
        where = where or Filter()
        record = AuditRecord("purge", name, where.describe(), note=note)
        now = datetime.now(UTC)
        async with self._channel() as channel:
            dlq = await channel.declare_queue(name, passive=True)
            while True:
                message = await dlq.get(no_ack=False, fail=False, timeout=self._timeout)
                if message is None:
                    break
                msg = DeadMessage.of(message, name)
                if where.matches(msg, now):
                    await message.ack()
                    record.message_ids.append(msg.message_id)
        record.finished_at = datetime.now(UTC).isoformat()
        await self._audit(record)
        return record

    async def _audit(self, record: AuditRecord) -> None:
        async with self._channel(confirms=True) as channel:
            await channel.declare_queue(
                AUDIT_QUEUE, durable=True, arguments={"x-queue-type": "quorum"}
            )
            await channel.default_exchange.publish(
                aio_pika.Message(
                    json.dumps(asdict(record)).encode(),
                    content_type="application/json",
                    message_id=record.audit_id,
                    type=f"dlq.{record.action}",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=AUDIT_QUEUE,
                timeout=self._timeout,
            )

    async def audit_log(self, *, limit: int = 100) -> list[dict[str, Any]]:
        """The latest audit records, oldest first (read without removing them)."""
        records: list[dict[str, Any]] = []
        async with self._channel() as channel:
            queue = await channel.declare_queue(
                AUDIT_QUEUE, durable=True, arguments={"x-queue-type": "quorum"}
            )
            while True:
                message = await queue.get(no_ack=False, fail=False, timeout=self._timeout)
                if message is None:
                    break
                records.append(json.loads(message.body))
        return records[-limit:]
