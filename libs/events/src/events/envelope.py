"""The CloudEvents 1.0 envelope (structured JSON mode) that every event travels in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import cache
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from events import context

CONTENT_TYPE = "application/cloudevents+json"


class EventData(BaseModel):
    """Base of every event payload; a subclass is one versioned contract (its `event_type`)."""

    # Tolerant reader: a consumer ignores fields added by a newer producer (a compatible change).
    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    """The CloudEvents `type`, carrying the major version: `user.registered.v1`."""
    producer: ClassVar[str]
    """The one service that publishes this type; the envelope's `source` is `/<producer>`."""


DataT = TypeVar("DataT", bound=EventData)


class Envelope(BaseModel):
    """The envelope's attributes, without a typed payload: what routing and logging need."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: uuid.UUID
    source: str = Field(pattern=r"^/[a-z][a-z0-9_-]*$")
    type: str = Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+\.v[0-9]+$")
    time: AwareDatetime
    subject: str | None = None
    datacontenttype: Literal["application/json"] = "application/json"
    correlationid: str = Field(min_length=1)
    causationid: str | None = None
    traceparent: str | None = None


class Event(Envelope, Generic[DataT]):
    """An envelope whose `data` is a validated contract payload."""

    data: DataT

    def body(self) -> bytes:
        """The structured-mode JSON body, as it goes on the wire and into the outbox."""
        return self.model_dump_json().encode()


class RawEvent(Envelope):
    """An envelope whose payload is not yet validated (DLQ tooling, the e2e tap)."""

    data: dict[str, Any]


@cache
def _event_model(data_type: type[EventData]) -> Any:
    """`Event[data_type]`, held for good: pydantic keeps parametrised models only weakly, so
    without this a garbage collection makes the next event rebuild its class (milliseconds)."""
    return Event[data_type]  # type: ignore[valid-type]


def new_event(
    data: DataT,
    *,
    subject: str | None,
    source: str | None = None,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    event_id: uuid.UUID | None = None,
    time: datetime | None = None,
) -> Event[DataT]:
    """Build an event, inheriting correlation and causation from the work in progress.

    The source defaults to the contract's producer, so a service cannot publish a type it does
    not own without saying so explicitly.
    """
    current = context.current()
    if correlation_id is None:
        correlation_id = current.correlation_id if current else context.new_correlation_id()
    if causation_id is None and current is not None:
        causation_id = current.causation_id
    event: Event[DataT] = _event_model(type(data))(
        id=event_id or uuid.uuid4(),
        source=source or f"/{data.producer}",
        type=data.event_type,
        time=time or datetime.now(UTC),
        subject=subject,
        correlationid=correlation_id,
        causationid=causation_id,
        traceparent=current.traceparent if current else None,
        data=data,
    )
    return event
