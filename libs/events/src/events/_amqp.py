"""The mapping between an event and an AMQP message: properties mirror the envelope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, HeadersType

from events.envelope import CONTENT_TYPE, Envelope

ATTEMPT = "x-attempt"


@dataclass(frozen=True)
class Meta:
    """What the AMQP properties need from an envelope, without parsing its payload again."""

    id: str
    type: str
    source: str
    time: datetime
    correlation_id: str

    @classmethod
    def of(cls, envelope: Envelope) -> Meta:
        return cls(
            id=str(envelope.id),
            type=envelope.type,
            source=envelope.source,
            time=envelope.time,
            correlation_id=envelope.correlationid,
        )


def build_message(meta: Meta, body: bytes, headers: HeadersType | None = None) -> aio_pika.Message:
    return aio_pika.Message(
        body,
        content_type=CONTENT_TYPE,
        message_id=meta.id,
        type=meta.type,
        timestamp=meta.time,
        app_id=meta.source.lstrip("/"),
        correlation_id=meta.correlation_id,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        headers=dict(headers or {}),
    )


def copy_message(
    message: AbstractIncomingMessage,
    headers: HeadersType,
    *,
    expiration: timedelta | None = None,
) -> aio_pika.Message:
    """A republishable copy of a delivery (retry, DLQ, replay) with new headers."""
    return aio_pika.Message(
        message.body,
        content_type=message.content_type,
        content_encoding=message.content_encoding,
        message_id=message.message_id,
        type=message.type,
        timestamp=message.timestamp,
        app_id=message.app_id,
        correlation_id=message.correlation_id,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        headers=dict(headers),
        expiration=expiration,
    )


def attempt_of(message: AbstractIncomingMessage) -> int:
    """The delivery count kept by the retry path (1 for a first delivery)."""
    value: Any = (message.headers or {}).get(ATTEMPT, 1)
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return 1
