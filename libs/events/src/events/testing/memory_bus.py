"""An in-memory bus that keeps every contract, for services' unit tests.

It claims publish, routing, dispatch and dead-lettering; `events.testing.conformance` proves
each claim against RabbitMQ too, so a service's unit tests can trust it. It does not model time
(retry delays) or the network; those are proven on RabbitMQ.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from events.catalog import CATALOG, Catalog
from events.consumer import run_dead_letter_hook
from events.envelope import Event, EventData
from events.errors import ContractViolation, Unroutable, is_retryable
from events.publisher import check_contract
from events.routing import Delivery, Route, Router, handling

M = TypeVar("M", bound=BaseModel)
D = TypeVar("D", bound=EventData)


@dataclass
class Parked:
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
    dead_letters: list[Parked] = field(default_factory=list)
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
            self.dead_letters.append(Parked(route.queue, body, exc, 1))
            return
        handler = route.handlers.get(event.type)
        if handler is None:
            self.dead_letters.append(Parked(route.queue, body, ContractViolation("no handler"), 1))
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
                        self.dead_letters.append(Parked(route.queue, body, exc, attempt))
                        return
                    continue
                self.handled[route.queue].append(event)
                return

    def of_type(self, model: type[D]) -> list[Event[D]]:
        """Published events of one contract, oldest first."""
        return [e for e in self.published if isinstance(e.data, model)]
