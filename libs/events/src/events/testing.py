"""The test kit for services: an in-memory bus that keeps every contract, and example builders.

The in-memory bus claims publish, routing, dispatch and dead-lettering; the shared suite in
libs/events/tests/bus_suite.py proves each claim against RabbitMQ too, so a service's unit tests
can trust it. It does not model time (retry delays) or the network; those are proven on RabbitMQ.
"""

from __future__ import annotations

import difflib
import gzip
import json
import threading
import time
import types
import typing
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Self, TypeVar, get_args, get_origin

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from events.catalog import CATALOG, Catalog
from events.consumer import run_dead_letter_hook
from events.envelope import Event, EventData, RawEvent, new_event
from events.errors import ContractViolation, Unroutable, is_retryable
from events.infra import wait_for
from events.publisher import check_contract
from events.routing import Delivery, Route, Router, handling

M = TypeVar("M", bound=BaseModel)
D = TypeVar("D", bound=EventData)


@dataclass
class DeadLetter:
    """A delivery the in-memory bus parked, with the error that parked it."""

    queue: str
    body: bytes
    error: BaseException
    attempts: int


@dataclass
class InMemoryBus:
    """Publishes, routes and dispatches in process; every event is checked against its contract."""

    catalog: Catalog = CATALOG
    published: list[Event[Any]] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    handled: dict[str, list[Event[Any]]] = field(default_factory=lambda: defaultdict(list))
    _routes: list[Route] = field(default_factory=list)
    _pending: list[tuple[Route, bytes, str | None]] = field(default_factory=list)

    def include(self, router: Router) -> None:
        self._routes.extend(router.routes)

    @property
    def ready(self) -> bool:
        return True

    async def publish(self, event: Event[Any]) -> None:
        check_contract(event, self.catalog)
        body = event.body()
        # The round trip catches what only serialisation reveals (a payload that does not parse
        # back into its own model).
        Event[type(event.data)].model_validate_json(body)  # type: ignore[misc]
        self._route(event.type, body, event.type)
        self.published.append(event)

    async def publish_body(self, meta: Any, body: bytes) -> None:
        """The outbox relay's path, so a relay can run against this bus in unit tests."""
        self._route(meta.type, body, meta.type)

    async def publish_raw(self, routing_key: str, body: bytes) -> None:
        """Put arbitrary bytes on the bus, as a broken producer could."""
        self._route(routing_key, body, None)

    def _route(self, routing_key: str, body: bytes, type_hint: str | None) -> None:
        targets = [r for r in self._routes if routing_key in r.subscription.types]
        if not targets:
            raise Unroutable(f"no queue is bound to {routing_key}")
        self._pending.extend((route, body, type_hint) for route in targets)

    async def drain(self, max_rounds: int = 1000) -> None:
        """Deliver until nothing is pending, events published by handlers included."""
        for _ in range(max_rounds):
            if not self._pending:
                return
            route, body, hint = self._pending.pop(0)
            await self._deliver(route, body, hint)
        raise RuntimeError("the bus did not settle: handlers keep publishing")

    async def _deliver(self, route: Route, body: bytes, hint: str | None) -> None:
        try:
            event = route.decode(body, hint)
        except ContractViolation as exc:
            self.dead_letters.append(DeadLetter(route.queue, body, exc, 1))
            return
        handler = route.handlers.get(event.type)
        if handler is None:
            self.dead_letters.append(
                DeadLetter(route.queue, body, ContractViolation("no handler"), 1)
            )
            return
        policy = route.subscription.retry
        # The consumer's schedule without its delays: each delivery (attempt) is tried once plus
        # its immediate retries, then redelivered until the attempts run out.
        for attempt in range(1, policy.attempts + 1):
            for immediate in range(policy.immediate + 1):
                current = Delivery(event, route.queue, attempt, attempt > 1)
                try:
                    with handling(current):
                        await handler(current)
                except Exception as exc:
                    final = immediate == policy.immediate and attempt == policy.attempts
                    if not is_retryable(exc) or final:
                        reason = "retries_exhausted" if is_retryable(exc) else "non_retryable"
                        await run_dead_letter_hook(
                            route, Delivery(event, route.queue, attempt, attempt > 1), exc, reason
                        )
                        self.dead_letters.append(DeadLetter(route.queue, body, exc, attempt))
                        return
                    continue
                self.handled[route.queue].append(event)
                return

    def of_type(self, model: type[D]) -> list[Event[D]]:
        """Published events of one contract, oldest first."""
        return [e for e in self.published if isinstance(e.data, model)]


# --- example builders ---------------------------------------------------------------------------

_NAMED: dict[str, Callable[[], Any]] = {
    "email": lambda: f"person-{uuid.uuid4().hex[:8]}@example.com",
    "recipient": lambda: f"person-{uuid.uuid4().hex[:8]}@example.com",
    "checksum_sha256": lambda: uuid.uuid4().hex * 2,
    "token": lambda: uuid.uuid4().hex + uuid.uuid4().hex,
    "content_type": lambda: "image/png",
    "slug": lambda: f"portfolio-{uuid.uuid4().hex[:6]}",
}


def _value(name: str, annotation: Any) -> Any:
    if name in _NAMED:
        return _NAMED[name]()
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _value(name, get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        return _value(name, options[0])
    if origin is Literal:
        return get_args(annotation)[0]
    if origin is list:
        return []
    if annotation is uuid.UUID:
        return uuid.uuid4()
    if annotation is datetime or "Datetime" in getattr(annotation, "__name__", ""):
        return datetime.now(UTC)
    if annotation is timedelta:
        return timedelta(minutes=5)
    if annotation is bool:
        return False
    if annotation is int:
        return 1
    if annotation is str:
        return f"example {name}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return example(annotation)
    raise TypeError(f"no example for {name}: {annotation!r}")


def example(model: type[M], **overrides: Any) -> M:
    """A valid instance of `model`, with plausible values for every required field."""
    values: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name in overrides:
            continue
        if info.is_required():
            values[name] = _value(name, info.annotation)
    return model.model_validate({**values, **overrides})


def example_event(
    model: type[D],
    *,
    subject: str | None = None,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    **overrides: Any,
) -> Event[D]:
    """A valid event of `model`'s type; payload fields can be overridden by name."""
    data = example(model, **overrides)
    return new_event(
        data,
        subject=subject or str(uuid.uuid4()),
        correlation_id=correlation_id,
        causation_id=causation_id,
    )


def delivery(event: Event[D], queue: str, *, attempt: int = 1) -> Delivery[D]:
    """A delivery of `event` to `queue`, as the consumer runtime hands it to a handler."""
    return Delivery(event, queue, attempt, attempt > 1)


# --- a local Sentry endpoint --------------------------------------------------------------------


class LoopbackHttpServer:
    """A real HTTP server on 127.0.0.1, in a thread, for stand-ins of outside services.

    Subclasses answer in `respond`; use the server as a context manager.
    """

    def __init__(self) -> None:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, headers, body = server.respond(
                    self.command, self.path, dict(self.headers), raw
                )
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def respond(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"


class SentryCapture(LoopbackHttpServer):
    """Accepts Sentry envelopes, so tests can assert that an alert was raised.

    Use `dsn` as the SENTRY_DSN of the code under test; `events()` returns the error events it got.
    """

    def __init__(self) -> None:
        super().__init__()
        self._received: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def respond(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self._ingest(body)
        return 200, {"Content-Type": "application/json"}, b"{}"

    @property
    def dsn(self) -> str:
        return self.base_url.replace("http://", "http://public@") + "/1"

    def _ingest(self, raw: bytes) -> None:
        lines = raw.split(b"\n")
        items: list[dict[str, Any]] = []
        i = 1  # line 0 is the envelope header
        while i + 1 < len(lines):
            try:
                header = json.loads(lines[i])
                payload = json.loads(lines[i + 1])
            except ValueError:
                i += 1
                continue
            if header.get("type") == "event" and isinstance(payload, dict):
                items.append(payload)
            i += 2
        with self._lock:
            self._received.extend(items)

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._received)


# --- a tap on the real exchange -----------------------------------------------------------------


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


# --- the outbox, drained into memory ------------------------------------------------------------


class ContractRecorder:
    """A publisher for the outbox relay that validates each body against its type's contract."""

    def __init__(self, catalog: Catalog = CATALOG) -> None:
        self.catalog = catalog
        self.events: list[Event[Any]] = []

    @property
    def ready(self) -> bool:
        return True

    async def publish_body(self, meta: Any, body: bytes) -> None:
        model = self.catalog.event(meta.type).model
        self.events.append(Event[model].model_validate_json(body))  # type: ignore[valid-type]


async def drain_outbox(engine: AsyncEngine, catalog: Catalog = CATALOG) -> list[Event[Any]]:
    """Relay every pending outbox row into memory, each checked by the contract kit, in order."""
    from events.outbox import OutboxRelay

    recorder = ContractRecorder(catalog)
    relay = OutboxRelay(engine, recorder)
    while await relay.relay_once():
        pass
    return recorder.events
