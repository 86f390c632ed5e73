"""W3C trace context for requests and events, and the Sentry transactions that use it.

The envelope's `traceparent` carries a request's trace id to every handler it causes, in every
service; each HTTP request, relay publish and handler execution is one Sentry transaction of that
trace. With tracing off (no DSN, or a zero sample rate) nothing is sent, but a trace id is still
made and propagated: logs and events stay linkable at the cost of 16 random bytes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import sentry_sdk

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_enabled = False


def enable(on: bool) -> None:
    """Called by `init_sentry`: transactions are opened only when Sentry samples traces."""
    global _enabled
    _enabled = on


def enabled() -> bool:
    return _enabled


def parse(traceparent: str | None) -> tuple[str, str, bool] | None:
    """(trace id, parent span id, sampled) of a valid W3C traceparent, else None."""
    if not traceparent:
        return None
    match = _TRACEPARENT.match(traceparent)
    if match is None or match[1] == "0" * 32 or match[2] == "0" * 16:
        return None
    return match[1], match[2], bool(int(match[3], 16) & 1)


def trace_id_of(traceparent: str | None) -> str | None:
    parsed = parse(traceparent)
    return parsed[0] if parsed else None


def new_traceparent(trace_id: str | None = None, *, sampled: bool = True) -> str:
    flags = "01" if sampled else "00"
    return f"00-{trace_id or os.urandom(16).hex()}-{os.urandom(8).hex()}-{flags}"


@contextmanager
def transaction(
    op: str,
    name: str,
    traceparent: str | None,
    tags: Mapping[str, str] | None = None,
    *,
    record: bool = True,
) -> Iterator[str]:
    """Run the block as a Sentry transaction continuing `traceparent`'s trace (a new trace when
    it has none); yields the traceparent that work caused inside the block must carry.

    `record=False` keeps the trace id flowing without sending a transaction (health probes and
    scrapes, which would drown the traces that matter)."""
    parent = parse(traceparent)
    if not (_enabled and record):
        yield traceparent if traceparent and parent else new_traceparent()
        return
    headers = {}
    if parent:
        # Sentry's own header for the same three facts: the SDK continues the trace and honours
        # the sampling decision made where the trace started.
        headers["sentry-trace"] = f"{parent[0]}-{parent[1]}-{int(parent[2])}"
    with sentry_sdk.isolation_scope() as scope:
        for key, value in (tags or {}).items():
            scope.set_tag(key, value)
        started = sentry_sdk.continue_trace(headers, op=op, name=name, source="task")
        with sentry_sdk.start_transaction(started) as span:
            yield f"00-{span.trace_id}-{span.span_id}-{'01' if span.sampled else '00'}"
            if span.status is None:
                span.set_status("ok")


def set_status(status: str) -> None:
    """Mark the transaction in progress (`internal_error` for a handler run that failed)."""
    if _enabled and (span := sentry_sdk.get_current_span()) is not None:
        span.set_status(status)


def set_http_status(status: int) -> None:
    """Record a response's status on the request's transaction (its `ok` or `internal_error`)."""
    if _enabled and (span := sentry_sdk.get_current_span()) is not None:
        span.set_http_status(status)
