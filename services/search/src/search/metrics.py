"""Search's own vital sign: how far the index trails the events that change it."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import Histogram

INDEX_LAG = Histogram(
    "search_index_lag_seconds",
    "From an event's time at its producer to its change written to the index.",
    ["event_type"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900),
)


def observe_lag(event_type: str, event_time: datetime) -> None:
    INDEX_LAG.labels(event_type).observe(max(0.0, (datetime.now(UTC) - event_time).total_seconds()))
