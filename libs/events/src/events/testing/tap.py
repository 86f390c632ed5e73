"""A tap on the real exchange: how tests follow a workflow event by event."""

from __future__ import annotations

import difflib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection
from pydantic import BaseModel

from events.envelope import EventData, RawEvent
from events.testing.waiting import wait_for

M = TypeVar("M", bound=BaseModel)
D = TypeVar("D", bound=EventData)


@dataclass(frozen=True)
class Tapped:
    """One event seen on the exchange, with the AMQP details it travelled with."""

    event: RawEvent
    routing_key: str
    headers: dict[str, Any]
    received_at: float


class EventTap:
    """A queue bound to `#` on the events exchange that records every event published.

    It is how tests follow a workflow event by event on the real broker: wait for an event that
    matches a predicate, or read the ordered sequence that shares a correlation id.
    """

    def __init__(self, connection: AbstractRobustConnection, exchange: str = "events") -> None:
        self._connection = connection
        self._exchange = exchange
        self.seen: list[Tapped] = []
        self._channel: AbstractChannel | None = None

    async def start(self) -> EventTap:
        self._channel = await self._connection.channel()
        exchange = await self._channel.declare_exchange(
            self._exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        # Exclusive and auto-deleted: the tap vanishes with the test's connection.
        queue = await self._channel.declare_queue(
            f"tap.{uuid.uuid4().hex[:8]}", exclusive=True, auto_delete=True
        )
        await queue.bind(exchange, routing_key="#")
        await queue.consume(self._record, no_ack=True)
        return self

    async def _record(self, message: AbstractIncomingMessage) -> None:
        try:
            event = RawEvent.model_validate_json(message.body)
        except ValueError:
            return  # a malformed body is a DLQ matter; the tap records events
        self.seen.append(
            Tapped(event, message.routing_key or "", dict(message.headers or {}), time.monotonic())
        )

    async def stop(self) -> None:
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()

    def events(self, event_type: str | None = None) -> list[RawEvent]:
        return [t.event for t in self.seen if event_type is None or t.event.type == event_type]

    async def wait_for(
        self,
        event_type: str,
        where: Callable[[RawEvent], bool] = lambda _: True,
        *,
        timeout: float = 10.0,
    ) -> RawEvent:
        """The first event of `event_type` matching `where`, waiting up to `timeout` seconds."""
        found: list[RawEvent] = []

        def match() -> bool:
            found[:] = [e for e in self.events(event_type) if where(e)]
            return bool(found)

        await wait_for(
            match,
            timeout=timeout,
            message=lambda: (
                f"no {event_type} matching the predicate; saw: "
                + ", ".join(f"{t.event.type}({t.event.subject})" for t in self.seen[-20:])
            ),
        )
        return found[0]

    def sequence(self, correlation_id: str) -> list[str]:
        """The types of the events of one workflow, in the order the tap received them."""
        return [t.event.type for t in self.seen if t.event.correlationid == correlation_id]

    async def expect_sequence(
        self,
        correlation_id: str,
        expected: list[str | tuple[str, ...]],
        *,
        timeout: float = 10.0,
    ) -> list[str]:
        """Wait until the workflow's events are `expected`, in order; fail with a readable diff.

        A tuple stands for events that may arrive in any order among themselves (published by
        different services at the same step); the steps themselves are ordered.
        """

        def normalised(observed: list[str]) -> list[str]:
            out: list[str] = []
            rest = list(observed)
            for step in expected:
                if isinstance(step, tuple):
                    chunk, rest = rest[: len(step)], rest[len(step) :]
                    out += sorted(chunk) if sorted(chunk) == sorted(step) else chunk
                else:
                    out += rest[:1]
                    rest = rest[1:]
            return out + rest

        flat = [
            t for step in expected for t in (sorted(step) if isinstance(step, tuple) else [step])
        ]
        try:
            await wait_for(
                lambda: normalised(self.sequence(correlation_id)) == flat, timeout=timeout
            )
        except AssertionError:
            got = normalised(self.sequence(correlation_id))
            diff = "\n".join(difflib.unified_diff(flat, got, "expected", "observed", lineterm=""))
            raise AssertionError(
                f"events of correlation {correlation_id} differ:\n{diff}"
            ) from None
        return self.sequence(correlation_id)
