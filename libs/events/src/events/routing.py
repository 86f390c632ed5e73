"""Handlers registered against the catalog's subscriptions, and the typed delivery they receive."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic

from events.catalog import CATALOG, Catalog, Subscription
from events.context import Correlation, correlated
from events.envelope import DataT, Event
from events.errors import ContractViolation


@dataclass(frozen=True)
class Delivery(Generic[DataT]):
    """One delivery of an event to one handler queue."""

    event: Event[DataT]
    queue: str
    attempt: int = 1
    redelivered: bool = False

    @property
    def data(self) -> DataT:
        return self.event.data


@contextmanager
def handling(delivery: Delivery[Any]) -> Iterator[None]:
    """The context a handler runs in: its logs carry the event's ids, and events it creates
    inherit the correlation id and name this event as their cause."""
    event = delivery.event
    with correlated(
        Correlation(event.correlationid, str(event.id), event.traceparent),
        event_id=str(event.id),
        event_type=event.type,
        causation_id=event.causationid,
        queue=delivery.queue,
        attempt=delivery.attempt,
    ):
        yield


Handler = Callable[[Delivery[Any]], Awaitable[None]]
DeadLetterHook = Callable[[Delivery[Any], BaseException, str], Awaitable[None]]
"""Runs when a delivery is given up on (with the error and the reason), before it is parked:
where a service records the failure and publishes its fault event (email.failed.v1, ...)."""


@dataclass
class Route:
    """A subscription and the handler of each type it consumes."""

    subscription: Subscription
    handlers: dict[str, Handler] = field(default_factory=dict)
    on_dead_letter: DeadLetterHook | None = None
    _envelopes: dict[str, type[Event[Any]]] = field(default_factory=dict, repr=False)

    @property
    def queue(self) -> str:
        return self.subscription.queue

    def decode(self, body: bytes, type_hint: str | None = None) -> Event[Any]:
        """Parse and validate a body against the contract of its type; a failure is final.

        `type_hint` is the AMQP `type` property, which spares a second JSON parse to find the model.
        """
        event_type = type_hint or _peek_type(body)
        envelope = self._envelopes.get(event_type)
        if envelope is None:
            model = self.subscription.model_for(event_type)
            envelope = self._envelopes[event_type] = Event[model]  # type: ignore[valid-type]
        try:
            event: Event[Any] = envelope.model_validate_json(body)
        except ValueError as exc:
            raise ContractViolation(f"{event_type} breaks its contract: {exc}") from exc
        if event.type != event_type:
            raise ContractViolation(f"AMQP type {event_type} disagrees with envelope {event.type}")
        return event


def _peek_type(body: bytes) -> str:
    try:
        parsed = json.loads(body)
    except ValueError as exc:
        raise ContractViolation(f"body is not JSON: {exc}") from exc
    event_type = parsed.get("type") if isinstance(parsed, dict) else None
    if not isinstance(event_type, str):
        raise ContractViolation("body is not a CloudEvents envelope (no type)")
    return event_type


class Router:
    """A service's handlers, each bound to a subscription the catalog declares for that service."""

    def __init__(self, service: str, catalog: Catalog = CATALOG) -> None:
        self.service = service
        self.catalog = catalog
        self._routes: dict[str, Route] = {}

    def on(
        self,
        handler: str,
        model: type[DataT],
        fn: Callable[[Delivery[DataT]], Awaitable[None]],
    ) -> None:
        """Run `fn` for each `model` event delivered to the queue `<service>.<handler>`."""
        sub = self.catalog.subscription(f"{self.service}.{handler}")
        if model not in sub.consumes:
            raise ContractViolation(f"{sub.queue} does not consume {model.event_type}")
        route = self._routes.setdefault(sub.queue, Route(sub))
        if model.event_type in route.handlers:
            raise ValueError(f"{sub.queue} already handles {model.event_type}")
        route.handlers[model.event_type] = fn

    def on_dead_letter(self, handler: str, hook: DeadLetterHook) -> None:
        """Run `hook` when a delivery to `<service>.<handler>` is parked in its DLQ."""
        sub = self.catalog.subscription(f"{self.service}.{handler}")
        self._routes.setdefault(sub.queue, Route(sub)).on_dead_letter = hook

    @property
    def routes(self) -> list[Route]:
        return list(self._routes.values())

    def missing(self) -> list[str]:
        """`queue: type` pairs the catalog subscribes this service to but no handler covers."""
        gaps = []
        for sub in self.catalog.subscriptions_of(self.service):
            handled = self._routes.get(sub.queue, Route(sub)).handlers
            gaps += [f"{sub.queue}: {t}" for t in sub.types if t not in handled]
        return gaps
