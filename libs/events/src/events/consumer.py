"""The consumer runtime: declares each route's topology, runs handlers, acks, retries, parks."""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiormq
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from events import failures, outcomes, telemetry, tracing
from events._amqp import ATTEMPT, attempt_of, copy_message
from events.context import Correlation, correlated
from events.errors import ContractViolation, PublishError, is_retryable
from events.logs import get_logger
from events.retry import GiveUp, Retry, RetryPolicy
from events.routing import Delivery, Route, Router, handling
from events.settings import BusSettings
from events.topology import dead_letter_queue, declare_subscription, retry_queue

log = get_logger("events.consumer")


async def run_dead_letter_hook(
    route: Route, delivery: Delivery[Any], error: BaseException, reason: str
) -> None:
    """Let the service record the failure; the message is parked whatever the hook does."""
    if route.on_dead_letter is None:
        return
    try:
        await route.on_dead_letter(delivery, error, reason)
    except Exception as exc:
        log.error("dead-letter hook failed; parking anyway", error=repr(exc))
        telemetry.report_dead_letter(
            queue=route.queue, reason="dead_letter_hook_failed", error=exc, headers={}
        )


class IncompleteRouter(Exception):
    """The catalog subscribes the service to a type that no handler covers."""


class Consumer:
    """Consumes every route of a router, one channel and prefetch window per queue."""

    def __init__(
        self,
        connection: AbstractRobustConnection,
        router: Router,
        settings: BusSettings,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
        require_complete: bool = True,
    ) -> None:
        if require_complete and (gaps := router.missing()):
            raise IncompleteRouter("no handler for " + ", ".join(gaps))
        self._connection = connection
        self._router = router
        self._settings = settings
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._policies: dict[str, RetryPolicy] = {
            r.queue: r.subscription.retry.scaled(settings.retry_time_scale) for r in router.routes
        }
        self._channels: list[AbstractChannel] = []
        self._consumers: list[tuple[AbstractQueue, str]] = []
        self._control: AbstractChannel | None = None
        self._inflight: set[asyncio.Task[Any]] = set()
        self._children: dict[tuple[str, str], tuple[Any, Any, Any]] = {}

    async def start(self) -> None:
        """Declare the topology and start consuming; prefetch is set before the first consume."""
        self._control = await self._connection.channel(
            publisher_confirms=True, on_return_raises=True
        )
        for route in self._router.routes:
            channel = await self._connection.channel()
            await channel.set_qos(prefetch_count=self._settings.prefetch)
            queue = await declare_subscription(channel, route.subscription, self._settings)
            tag = await queue.consume(functools.partial(self._on_message, route))
            self._channels.append(channel)
            self._consumers.append((queue, tag))
            log.info("consuming", queue=route.queue, types=list(route.handlers))

    @property
    def ready(self) -> bool:
        channels = [*self._channels, *([self._control] if self._control else [])]
        return bool(channels) and all(not c.is_closed for c in channels)

    async def stop(self) -> None:
        """Stop taking deliveries, let the ones in flight finish, then close the channels."""
        for queue, tag in self._consumers:
            try:
                await queue.cancel(tag)
            except (aiormq.exceptions.AMQPError, RuntimeError) as exc:
                log.warning("cancel failed", queue=queue.name, error=repr(exc))
        self._consumers.clear()
        if self._inflight:
            await asyncio.wait(self._inflight, timeout=self._settings.drain_timeout_s)
        for channel in [*self._channels, *([self._control] if self._control else [])]:
            if not channel.is_closed:
                await channel.close()
        self._channels.clear()

    async def _on_message(self, route: Route, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            await self._process(route, message)
        finally:
            if task is not None:
                self._inflight.discard(task)

    async def _process(self, route: Route, message: AbstractIncomingMessage) -> None:
        attempt = attempt_of(message)
        try:
            event = route.decode(message.body, message.type)
        except ContractViolation as exc:
            with correlated(
                Correlation(message.correlation_id or "unknown"),
                event_id=message.message_id,
                queue=route.queue,
            ):
                await self._dead_letter(route, message, exc, attempt, GiveUp("non_retryable"))
            return
        delivery = Delivery(event, route.queue, attempt, bool(message.redelivered))
        tags = {"queue": route.queue, "event_type": event.type}
        with (
            tracing.transaction("queue.process", route.queue, event.traceparent, tags),
            handling(delivery),
            outcomes.observed() as outcome,
        ):
            error, failed_at = await self._run(route, delivery)
            if error is None:
                self._metrics(route.queue, event.type)[1 if outcome.duplicate else 0].inc()
                await self._ack(message)
                return
            tracing.set_status("internal_error")
            policy = self._policies[route.queue]
            decision = policy.decide(
                attempt,
                first_failed_at=failures.first_failed_at(message.headers, default=failed_at),
                now=self._clock(),
                retryable=is_retryable(error),
                rng=self._rng,
            )
            if isinstance(decision, Retry):
                await self._retry(route, message, error, attempt, decision, failed_at)
            else:
                await run_dead_letter_hook(route, delivery, error, decision.reason)
                await self._dead_letter(route, message, error, attempt, decision)

    async def _run(
        self, route: Route, delivery: Delivery[Any]
    ) -> tuple[BaseException | None, datetime]:
        """Call the handler, retrying in process first; returns the last error, if any."""
        handler = route.handlers[delivery.event.type]
        policy = self._policies[route.queue]
        first_failure: datetime | None = None
        started = time.perf_counter()
        try:
            for immediate in range(policy.immediate + 1):
                try:
                    await handler(delivery)
                    return None, first_failure or self._clock()
                except Exception as exc:
                    first_failure = first_failure or self._clock()
                    if not is_retryable(exc) or immediate == policy.immediate:
                        log.warning(
                            "handler failed",
                            error_type=failures.error_type(exc),
                            error=str(exc)[:200],
                            retryable=is_retryable(exc),
                        )
                        return exc, first_failure
                    await asyncio.sleep((policy.immediate_backoff * (2**immediate)).total_seconds())
            raise AssertionError("unreachable")  # pragma: no cover
        finally:
            self._metrics(route.queue, delivery.event.type)[2].observe(
                time.perf_counter() - started
            )

    def _metrics(self, queue: str, event_type: str) -> tuple[Any, Any, Any]:
        """The per-(queue, type) metric children (ok, duplicate, handler time), looked up once:
        this runs per delivery."""
        key = (queue, event_type)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                telemetry.CONSUMED.labels(queue, event_type, "ok"),
                telemetry.CONSUMED.labels(queue, event_type, "duplicate"),
                telemetry.HANDLER_SECONDS.labels(queue, event_type),
            )
        return children

    async def _retry(
        self,
        route: Route,
        message: AbstractIncomingMessage,
        error: BaseException,
        attempt: int,
        decision: Retry,
        failed_at: datetime,
    ) -> None:
        headers = failures.fault_headers(
            message.headers,
            error,
            attempt=attempt,
            queue=route.queue,
            routing_key=message.routing_key or "",
            failed_at=failed_at,
        )
        headers.pop(failures.ERROR_STACK, None)  # the stack is for the DLQ, not every hop
        headers[ATTEMPT] = attempt + 1
        target = retry_queue(route.queue, decision.level)
        copy = copy_message(message, headers, expiration=decision.delay)
        if await self._republish(copy, target, message):
            telemetry.RETRIED.labels(route.queue, str(decision.level)).inc()
            telemetry.CONSUMED.labels(route.queue, message.type or "", "retried").inc()
            log.info(
                "retry scheduled",
                retry_level=decision.level,
                delay_ms=int(decision.delay.total_seconds() * 1000),
                next_attempt=attempt + 1,
            )

    async def _dead_letter(
        self,
        route: Route,
        message: AbstractIncomingMessage,
        error: BaseException,
        attempt: int,
        decision: GiveUp,
    ) -> None:
        headers = failures.fault_headers(
            message.headers,
            error,
            attempt=attempt,
            queue=route.queue,
            routing_key=message.routing_key or "",
            failed_at=self._clock(),
        )
        headers[failures.REASON] = decision.reason
        copy = copy_message(message, headers)
        if await self._republish(copy, dead_letter_queue(route.queue), message):
            telemetry.DEAD_LETTERED.labels(route.queue, decision.reason).inc()
            telemetry.CONSUMED.labels(route.queue, message.type or "", "dead_lettered").inc()
            log.error(
                "message dead-lettered",
                reason=decision.reason,
                error_type=headers[failures.ERROR_TYPE],
                error=headers[failures.ERROR],
                attempts=attempt,
                dlq=dead_letter_queue(route.queue),
            )
            telemetry.report_dead_letter(
                queue=route.queue,
                reason=decision.reason,
                error=error,
                headers=headers,
                event_type=message.type or message.routing_key,
                attempts=attempt,
            )

    async def _republish(self, copy: Any, target: str, original: AbstractIncomingMessage) -> bool:
        """Publish to a retry level or DLQ with a confirm, and only then ack the original."""
        try:
            if self._control is None:
                raise PublishError("consumer not started")
            async with asyncio.timeout(self._settings.publish_timeout_s):
                await self._control.default_exchange.publish(copy, routing_key=target)
        except (TimeoutError, aiormq.exceptions.AMQPError, RuntimeError, PublishError) as exc:
            # Not acked: the broker redelivers it (and the delivery limit bounds the loop).
            log.error(
                "republish failed; message returned to its queue", target=target, error=repr(exc)
            )
            await self._settle(original.nack(requeue=True))
            return False
        await self._ack(original)
        return True

    async def _ack(self, message: AbstractIncomingMessage) -> None:
        await self._settle(message.ack())

    async def _settle(self, op: Any) -> None:
        try:
            await op
        except (aiormq.exceptions.AMQPError, RuntimeError) as exc:
            # A delivery tag dies with its channel: after a reconnect the broker redelivers the
            # message, and the handler's inbox absorbs the duplicate.
            log.warning("ack or nack lost with its channel; broker will redeliver", error=repr(exc))
