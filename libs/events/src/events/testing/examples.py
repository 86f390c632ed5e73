"""Valid example payloads, events and deliveries of any contract, for tests."""

from __future__ import annotations

import types
import typing
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar, get_args, get_origin

from pydantic import BaseModel

from events.envelope import Event, EventData, new_event
from events.routing import Delivery

M = TypeVar("M", bound=BaseModel)
D = TypeVar("D", bound=EventData)


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
