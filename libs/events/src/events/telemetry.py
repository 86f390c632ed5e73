"""Sentry and Prometheus: errors an operator must hear about, and the bus's vital signs.

Every metric an alert or a dashboard reads is listed in docs/operations.md; a rename here is a
rename there and in monitoring/alerts.yml.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sentry_sdk
import structlog
from prometheus_client import Counter, Gauge, Histogram
from sentry_sdk.integrations.logging import LoggingIntegration

from events import tracing
from events.scrubbing import before_send, scrub

PUBLISHED = Counter("events_published_total", "Events confirmed by the broker.", ["event_type"])
PUBLISH_FAILED = Counter(
    "events_publish_failed_total",
    "Publishes the broker refused, returned or never confirmed.",
    ["event_type", "error"],
)
CONSUMED = Counter(
    "events_consumed_total",
    "Deliveries handled, by outcome: ok, duplicate (the inbox had it), retried, dead_lettered.",
    ["queue", "event_type", "outcome"],
)
RETRIED = Counter(
    "events_retried_total",
    "Deliveries sent to a retry level (the level reached).",
    ["queue", "level"],
)
DEAD_LETTERED = Counter(
    "events_dead_lettered_total", "Deliveries parked in a DLQ.", ["queue", "reason"]
)
HANDLER_SECONDS = Histogram(
    "events_handler_seconds",
    "Time spent in a handler, in-process retries included.",
    ["queue", "event_type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DLQ_MESSAGES = Gauge(
    "events_dlq_messages", "Messages waiting in a handler's DLQ (polled by its worker).", ["queue"]
)
OUTBOX_LAG = Histogram(
    "events_outbox_lag_seconds",
    "From the outbox insert to the broker's confirm.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
OUTBOX_PENDING = Gauge("events_outbox_pending", "Outbox rows not yet published.")
OUTBOX_OLDEST_AGE = Gauge(
    "events_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row (0 when none)."
)
RELAY_FAILED = Counter(
    "events_relay_publish_failed_total",
    "Outbox rows the relay failed to publish (each is retried with backoff).",
    ["event_type"],
)

_CONTEXT_TAGS = ("request_id", "correlation_id", "event_id", "event_type", "queue", "attempt")
"""Log-context fields that become Sentry tags: what an operator searches Sentry by."""


def init_sentry(
    dsn: str | None,
    *,
    service: str,
    environment: str,
    release: str | None = None,
    traces_sample_rate: float = 0.0,
) -> bool:
    """Turn Sentry on only when a DSN is configured; returns whether it is on.

    Auto-enabled integrations stay off: they wrap every SQL statement, Redis call and HTTP route
    in spans and breadcrumbs (statements with their parameters), which cost a fifth of a request's
    CPU in auth's benchmark. The request middleware and the consumer open one transaction each.
    """
    tracing.enable(False)
    if not dsn:
        return False
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        server_name=service,
        traces_sample_rate=traces_sample_rate,
        auto_enabling_integrations=False,
        # Log lines become breadcrumbs from WARNING up, never events: errors are captured where
        # they happen, with their tags, not once more by the logging handler.
        integrations=[LoggingIntegration(level=30, event_level=None)],
        # Frame locals hold what a handler was working on (a verification token, a password in
        # a request), and the scrubber cannot see inside their reprs: send stack frames without.
        include_local_variables=False,
        # Request bodies, headers, messages and breadcrumbs pass one scrubber by field name.
        before_send=_tag_and_scrub,  # type: ignore[arg-type]
        before_send_transaction=before_send,  # type: ignore[arg-type]
        before_breadcrumb=lambda crumb, hint: scrub_breadcrumb(crumb),
    )
    scope = sentry_sdk.get_global_scope()
    scope.set_tag("service", service)
    scope.set_tag("environment", environment)
    if release:
        scope.set_tag("release", release)
    tracing.enable(traces_sample_rate > 0)
    return True


def _tag_and_scrub(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    """Tag the event with the ids of the request or delivery it happened in, then scrub it."""
    bound = structlog.contextvars.get_contextvars()
    tags = event.setdefault("tags", {})
    if isinstance(tags, dict):
        for name in _CONTEXT_TAGS:
            if name in bound and name not in tags:
                tags[name] = str(bound[name])
    return before_send(event, hint)


def scrub_breadcrumb(crumb: dict[str, Any]) -> dict[str, Any]:
    scrubbed: dict[str, Any] = scrub(crumb)
    return scrubbed


def report_dead_letter(
    *,
    queue: str,
    reason: str,
    error: BaseException | None,
    headers: Mapping[str, Any],
    event_type: str | None = None,
    attempts: int | None = None,
) -> None:
    """Tell Sentry about a parked message (its queue, type and attempts); a no-op when off."""
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("queue", queue)
        scope.set_tag("dead_letter_reason", reason)
        if event_type:
            scope.set_tag("event_type", event_type)
        if attempts is not None:
            scope.set_tag("attempts", str(attempts))
        scope.set_context("message", {k: str(v) for k, v in headers.items()})
        scope.fingerprint = ["dead-letter", queue, reason, str(headers.get("x-error-type", ""))]
        if error is not None:
            sentry_sdk.capture_exception(error)
        else:
            sentry_sdk.capture_message(f"message dead-lettered from {queue}: {reason}", "error")
