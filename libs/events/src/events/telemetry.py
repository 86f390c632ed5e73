"""Sentry and Prometheus: errors an operator must hear about, and the bus's vital signs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sentry_sdk
from prometheus_client import Counter, Gauge, Histogram

from events.scrubbing import before_send, scrub

PUBLISHED = Counter("events_published_total", "Events confirmed by the broker.", ["event_type"])
PUBLISH_FAILED = Counter(
    "events_publish_failed_total",
    "Publishes the broker refused, returned or never confirmed.",
    ["event_type", "error"],
)
CONSUMED = Counter(
    "events_consumed_total", "Deliveries handled, by outcome.", ["queue", "event_type", "outcome"]
)
RETRIED = Counter("events_retried_total", "Deliveries sent to a retry level.", ["queue", "level"])
DEAD_LETTERED = Counter(
    "events_dead_lettered_total", "Deliveries parked in a DLQ.", ["queue", "reason"]
)
HANDLER_SECONDS = Histogram(
    "events_handler_seconds", "Time spent in a handler, retries included.", ["queue", "event_type"]
)
OUTBOX_LAG = Histogram(
    "events_outbox_lag_seconds",
    "From the outbox insert to the broker's confirm.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
OUTBOX_PENDING = Gauge("events_outbox_pending", "Outbox rows not yet published.")


def init_sentry(
    dsn: str | None, *, service: str, environment: str, release: str | None = None
) -> bool:
    """Turn Sentry on only when a DSN is configured; returns whether it is on."""
    if not dsn:
        return False
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        server_name=service,
        traces_sample_rate=0.0,
        # Frame locals hold what a handler was working on (a verification token, a password in
        # a request), and the scrubber cannot see inside their reprs: send stack frames without.
        include_local_variables=False,
        # Request bodies, headers, messages and breadcrumbs pass one scrubber by field name.
        before_send=before_send,  # type: ignore[arg-type]
        before_send_transaction=before_send,  # type: ignore[arg-type]
        before_breadcrumb=lambda crumb, hint: scrub_breadcrumb(crumb),
    )
    sentry_sdk.set_tag("service", service)
    return True


def scrub_breadcrumb(crumb: dict[str, Any]) -> dict[str, Any]:
    scrubbed: dict[str, Any] = scrub(crumb)
    return scrubbed


def report_dead_letter(
    *, queue: str, reason: str, error: BaseException | None, headers: Mapping[str, Any]
) -> None:
    """Tell Sentry about a parked message; a no-op when Sentry is off."""
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("queue", queue)
        scope.set_tag("dead_letter_reason", reason)
        scope.set_context("message", {k: str(v) for k, v in headers.items()})
        scope.fingerprint = ["dead-letter", queue, reason, str(headers.get("x-error-type", ""))]
        if error is not None:
            sentry_sdk.capture_exception(error)
        else:
            sentry_sdk.capture_message(f"message dead-lettered from {queue}: {reason}", "error")
