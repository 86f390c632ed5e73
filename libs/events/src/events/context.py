"""Correlation context carried from an HTTP request or an incoming event to everything it causes.

Context variables (not arguments) because the ids must reach log lines and new events created deep
inside handlers without every function passing them along.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import structlog


@dataclass(frozen=True)
class Correlation:
    """The ids an event inherits from whatever caused it."""

    correlation_id: str
    causation_id: str | None = None
    traceparent: str | None = None


_current: ContextVar[Correlation | None] = ContextVar("events_correlation", default=None)


def current() -> Correlation | None:
    """The correlation in effect, if a request or an event is being handled."""
    return _current.get()


def new_correlation_id() -> str:
    """A fresh correlation id for work that starts here (a request without X-Request-ID)."""
    return str(uuid.uuid4())


@contextmanager
def correlated(correlation: Correlation, **log_fields: object) -> Iterator[Correlation]:
    """Make `correlation` current and bind it (and `log_fields`) to every log line inside."""
    token = _current.set(correlation)
    # The causation id of new events is not bound here: a consumer logs the incoming event's own
    # causation id, while events it creates name the incoming event as their cause.
    fields: dict[str, object] = {"correlation_id": correlation.correlation_id, **log_fields}
    with structlog.contextvars.bound_contextvars(**fields):
        try:
            yield correlation
        finally:
            _current.reset(token)
