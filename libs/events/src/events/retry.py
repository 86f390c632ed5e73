"""Retry policies: what a handler's failure leads to, decided from the attempt and the clock."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal


@dataclass(frozen=True)
class Retry:
    """Redeliver after `delay`, through the retry queue of `level` (1-based)."""

    level: int
    delay: timedelta


@dataclass(frozen=True)
class GiveUp:
    """Stop retrying: the message is parked in the handler's DLQ for an operator."""

    reason: Literal["non_retryable", "retries_exhausted", "retry_budget_exhausted"]


Decision = Retry | GiveUp


def _seconds(*values: float) -> tuple[timedelta, ...]:
    return tuple(timedelta(seconds=v) for v in values)


@dataclass(frozen=True)
class RetryPolicy:
    """A handler's retry schedule: immediate in-process retries, then delayed redeliveries.

    `delays[i]` is the wait before delivery i+2; each level is its own queue because quorum queues
    expire messages only at their head. When `max_attempts` exceeds the number of levels, the last
    level repeats. Jitter only shortens a delay (down to `1 - jitter` of it), so a message never
    outlives its level's queue TTL, and many failures at once do not come back at once.
    """

    delays: tuple[timedelta, ...] = field(default_factory=lambda: _seconds(1, 5, 30, 120, 600))
    immediate: int = 2
    immediate_backoff: timedelta = timedelta(milliseconds=50)
    max_attempts: int | None = None
    budget: timedelta | None = None
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if not self.delays:
            raise ValueError("a retry policy needs at least one delay level")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")
        if self.immediate < 0:
            raise ValueError("immediate retries cannot be negative")

    @property
    def attempts(self) -> int:
        """Deliveries in all, the first included."""
        return self.max_attempts if self.max_attempts is not None else len(self.delays) + 1

    def decide(
        self,
        attempt: int,
        *,
        first_failed_at: datetime,
        now: datetime,
        retryable: bool,
        rng: random.Random | None = None,
    ) -> Decision:
        """What to do after delivery number `attempt` (1-based) failed."""
        if not retryable:
            return GiveUp("non_retryable")
        if attempt >= self.attempts:
            return GiveUp("retries_exhausted")
        level = min(attempt, len(self.delays))
        base = self.delays[level - 1]
        factor = 1 - self.jitter * (rng or random).random()
        delay = base * factor
        if self.budget is not None and (now - first_failed_at) + delay > self.budget:
            return GiveUp("retry_budget_exhausted")
        return Retry(level=level, delay=delay)

    def scaled(self, factor: float) -> RetryPolicy:
        """The same schedule with every duration multiplied (tests run it in milliseconds)."""
        if factor == 1:
            return self
        return replace(
            self,
            delays=tuple(d * factor for d in self.delays),
            immediate_backoff=self.immediate_backoff * factor,
            budget=self.budget * factor if self.budget is not None else None,
        )


DEFAULT = RetryPolicy()
"""State projections: a few seconds to ten minutes (ARCHITECTURE.md's default)."""

EMAIL = RetryPolicy(
    delays=_seconds(60, 300, 1800, 7200, 21600),
    immediate=1,
    budget=timedelta(hours=24),
)
"""Email: a provider outage lasts minutes to hours; a day later the mail is stale."""

MEDIA = RetryPolicy(
    delays=_seconds(30, 120, 600, 3600, 14400),
    immediate=1,
    budget=timedelta(hours=12),
)
"""Media processing: object storage outages, heavy images; hours at most."""
