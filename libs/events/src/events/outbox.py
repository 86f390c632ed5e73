"""The transactional outbox: events are written with the state change and relayed after commit."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import asyncpg
from sqlalchemy import Interval, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from events import telemetry, tracing
from events._amqp import Meta
from events.catalog import CATALOG, Catalog
from events.db import asyncpg_dsn
from events.envelope import Event
from events.logs import get_logger
from events.publisher import check_contract
from events.tables import NOTIFY_CHANNEL, inbox, outbox

log = get_logger("events.outbox")


_ADD = outbox.insert().values(
    event_id=bindparam("event_id"),
    event_type=bindparam("event_type"),
    correlation_id=bindparam("correlation_id"),
    envelope=bindparam("envelope"),
)


async def add_to_outbox(
    session: AsyncSession, *events: Event[Any], catalog: Catalog = CATALOG
) -> None:
    """Write `events` in the session's transaction, in one statement: they are published if and
    only if that transaction commits."""
    for event in events:
        check_contract(event, catalog)
    if not events:
        return
    connection = await session.connection()
    await connection.execute(
        _ADD,
        [
            {
                "event_id": event.id,
                "event_type": event.type,
                "correlation_id": event.correlationid,
                "envelope": event.model_dump(mode="json"),
            }
            for event in events
        ],
    )


class BodyPublisher(Protocol):
    """What the relay needs of a publisher: confirmed publishes of ready-made bodies."""

    @property
    def ready(self) -> bool: ...

    async def publish_body(self, meta: Meta, body: bytes) -> None: ...


@dataclass(frozen=True)
class RelaySettings:
    batch_size: int = 200
    poll_interval_s: float = 1.0
    """Fallback when a notification is lost (the LISTEN connection dropped)."""
    max_backoff_s: float = 60.0
    outbox_retention: timedelta = timedelta(days=7)
    inbox_retention: timedelta = timedelta(days=30)
    prune_every_s: float = 3600.0


class OutboxRelay:
    """Publishes committed outbox rows in order, marking each once the broker confirms it.

    Rows are claimed with FOR UPDATE SKIP LOCKED inside the transaction that marks them, so relays
    on several replicas never publish the same row concurrently; a relay that dies between publish
    and mark leaves the row unmarked, and it is published again (at least once).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        publisher: BodyPublisher,
        settings: RelaySettings | None = None,
    ) -> None:
        self._engine = engine
        self._publisher = publisher
        self._settings = settings or RelaySettings()
        self._wake = asyncio.Event()
        self._listener: asyncpg.Connection | None = None
        self._last_prune = float("-inf")
        self._last_gauge = float("-inf")

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until `stop` is set: wake on NOTIFY, poll as a fallback, back off on errors."""
        errors = 0
        try:
            while not stop.is_set():
                await self._ensure_listener()
                self._wake.clear()  # before the claim: a NOTIFY during it is not lost
                try:
                    published = await self.relay_once() if self._publisher.ready else 0
                    await self._housekeeping()
                    errors = 0
                except Exception as exc:
                    errors += 1
                    log.error("outbox relay pass failed", error=repr(exc))
                    published = 0
                    await _wait(stop, min(self._settings.max_backoff_s, 0.1 * 2**errors))
                    continue
                if published >= self._settings.batch_size:
                    continue
                await _wait_any(stop, self._wake, self._settings.poll_interval_s)
        finally:
            await self._close_listener()

    async def relay_once(self) -> int:
        """Claim one batch of due rows, publish them concurrently, record each outcome."""
        async with self._engine.begin() as conn:
            rows = (
                await conn.execute(
                    select(outbox.c.seq, outbox.c.envelope, outbox.c.attempts, outbox.c.created_at)
                    .where(outbox.c.published_at.is_(None), outbox.c.available_at <= func.now())
                    .order_by(outbox.c.seq)
                    .limit(self._settings.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            results = await asyncio.gather(
                *(self._publish(row.envelope) for row in rows), return_exceptions=True
            )
            done = [row for row, result in zip(rows, results, strict=True) if result is None]
            failed = [
                (row, result)
                for row, result in zip(rows, results, strict=True)
                if isinstance(result, BaseException)
            ]
            await self._mark(conn, done, failed)
        now = time.time()
        for row in done:
            telemetry.OUTBOX_LAG.observe(max(0.0, now - row.created_at.timestamp()))
        return len(done)

    async def _publish(self, envelope: dict[str, Any]) -> None:
        meta = Meta(
            id=envelope["id"],
            type=envelope["type"],
            source=envelope["source"],
            time=datetime.fromisoformat(envelope["time"]),
            correlation_id=envelope["correlationid"],
        )
        body = json.dumps(envelope, separators=(",", ":")).encode()
        tags = {"event_type": meta.type, "correlation_id": meta.correlation_id}
        with tracing.transaction("queue.publish", meta.type, envelope.get("traceparent"), tags):
            await self._publisher.publish_body(meta, body)

    async def _mark(
        self, conn: AsyncConnection, done: list[Any], failed: list[tuple[Any, BaseException]]
    ) -> None:
        if done:
            await conn.execute(
                update(outbox)
                .where(outbox.c.seq.in_([row.seq for row in done]))
                .values(published_at=func.now())
            )
        if failed:
            await conn.execute(
                update(outbox)
                .where(outbox.c.seq == bindparam("s"))
                .values(
                    attempts=outbox.c.attempts + 1,
                    last_error=bindparam("err"),
                    available_at=func.now() + bindparam("delay", type_=Interval),
                ),
                [
                    {"s": row.seq, "err": repr(exc)[:1000], "delay": self._backoff(row.attempts)}
                    for row, exc in failed
                ],
            )
            for row, _ in failed:
                telemetry.RELAY_FAILED.labels(row.envelope["type"]).inc()
            log.warning(
                "outbox rows not published; will retry",
                count=len(failed),
                error=repr(failed[0][1])[:300],
            )

    def _backoff(self, attempts: int) -> timedelta:
        base = min(self._settings.max_backoff_s, 0.2 * 2**attempts)
        return timedelta(seconds=base * (0.5 + random.random() / 2))  # noqa: S311

    async def _housekeeping(self) -> None:
        """Refresh the pending gauges (each second at most) and prune old rows (hourly)."""
        now = time.monotonic()
        if now - self._last_gauge >= 1.0:
            self._last_gauge = now
            async with self._engine.connect() as conn:
                pending, oldest = (
                    await conn.execute(
                        select(
                            func.count(),
                            func.coalesce(
                                func.extract("epoch", func.now() - func.min(outbox.c.created_at)),
                                0,
                            ),
                        ).where(outbox.c.published_at.is_(None))
                    )
                ).one()
            telemetry.OUTBOX_PENDING.set(pending)
            telemetry.OUTBOX_OLDEST_AGE.set(max(0.0, float(oldest)))
        if now - self._last_prune < self._settings.prune_every_s:
            return
        self._last_prune = now
        async with self._engine.begin() as conn:
            await conn.execute(
                outbox.delete().where(
                    outbox.c.published_at < func.now() - self._settings.outbox_retention
                )
            )
            await conn.execute(
                inbox.delete().where(
                    inbox.c.processed_at < func.now() - self._settings.inbox_retention
                )
            )

    async def _ensure_listener(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        try:
            self._listener = await asyncpg.connect(asyncpg_dsn(self._engine))
            await self._listener.add_listener(NOTIFY_CHANNEL, self._on_notify)
        except (OSError, asyncpg.PostgresError) as exc:
            self._listener = None
            log.warning("outbox LISTEN unavailable; polling", error=repr(exc))

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _close_listener(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
