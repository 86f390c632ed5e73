"""Fault details an operator reads off a retried or parked message (MassTransit's MT-Fault-*)."""

from __future__ import annotations

import socket
import traceback
from datetime import UTC, datetime
from typing import Any

from aio_pika.abc import HeadersType

ERROR = "x-error"
ERROR_TYPE = "x-error-type"
ERROR_STACK = "x-error-stack"
ATTEMPTS = "x-attempts"
ORIGINAL_QUEUE = "x-original-queue"
ORIGINAL_ROUTING_KEY = "x-original-routing-key"
FIRST_FAILED_AT = "x-first-failed-at"
FAILED_AT = "x-failed-at"
FAILED_HOST = "x-failed-host"
REASON = "x-dead-letter-reason"

# Headers the broker adds on each dead-lettering; a republished copy starts a clean history.
_BROKER_HEADERS = (
    "x-death",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
    "x-delivery-count",
)

MAX_ERROR = 1_000
MAX_STACK = 4_000


def error_type(exc: BaseException) -> str:
    cls = type(exc)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )


def stack(exc: BaseException) -> str:
    """The innermost frames, which say where it broke; the start is cut, not the end."""
    text = "".join(traceback.format_exception(exc))
    return text if len(text) <= MAX_STACK else "..." + text[-MAX_STACK:]


def clean(headers: HeadersType | None) -> dict[str, Any]:
    return {k: v for k, v in (headers or {}).items() if k not in _BROKER_HEADERS}


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def first_failed_at(headers: HeadersType | None, default: datetime) -> datetime:
    """When the first delivery failed, as recorded on the message by the retry path."""
    value = (headers or {}).get(FIRST_FAILED_AT)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    return default


def fault_headers(
    headers: HeadersType | None,
    exc: BaseException,
    *,
    attempt: int,
    queue: str,
    routing_key: str,
    failed_at: datetime,
) -> dict[str, Any]:
    """Headers describing the latest failure, keeping the first failure's time and routing key."""
    out = clean(headers)
    message = str(exc) or type(exc).__name__
    out.update(
        {
            ERROR: message[:MAX_ERROR],
            ERROR_TYPE: error_type(exc),
            ERROR_STACK: stack(exc),
            ATTEMPTS: attempt,
            ORIGINAL_QUEUE: queue,
            ORIGINAL_ROUTING_KEY: out.get(ORIGINAL_ROUTING_KEY, routing_key),
            FIRST_FAILED_AT: out.get(FIRST_FAILED_AT, failed_at.isoformat()),
            FAILED_AT: now_iso(),
            FAILED_HOST: socket.gethostname(),
        }
    )
    return out
