"""Retry decisions: levels, jitter bounds, the attempt cap, the time budget, classification."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from events.errors import ContractViolation, PermanentError, is_retryable
from events.retry import DEFAULT, EMAIL, GiveUp, Retry, RetryPolicy

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_default_schedule_is_the_architectures() -> None:
    assert [d.total_seconds() for d in DEFAULT.delays] == [1, 5, 30, 120, 600]
    assert DEFAULT.attempts == 6


@given(
    attempt=st.integers(min_value=1, max_value=20),
    jitter=st.floats(min_value=0, max_value=0.9),
    seed=st.integers(),
)
def test_a_retry_waits_its_levels_delay_shortened_by_at_most_the_jitter(
    attempt: int, jitter: float, seed: int
) -> None:
    policy = RetryPolicy(delays=DEFAULT.delays, jitter=jitter, max_attempts=30)
    decision = policy.decide(
        attempt, first_failed_at=NOW, now=NOW, retryable=True, rng=random.Random(seed)
    )
    assert isinstance(decision, Retry)
    level = min(attempt, len(policy.delays))
    base = policy.delays[level - 1]
    assert decision.level == level
    assert base * (1 - jitter) - timedelta(microseconds=1) <= decision.delay <= base


def test_the_last_attempt_is_parked() -> None:
    policy = RetryPolicy(delays=(timedelta(seconds=1),) * 2)
    assert isinstance(policy.decide(2, first_failed_at=NOW, now=NOW, retryable=True), Retry)
    assert policy.decide(3, first_failed_at=NOW, now=NOW, retryable=True) == GiveUp(
        "retries_exhausted"
    )


def test_a_retry_that_would_overrun_the_budget_is_parked() -> None:
    policy = RetryPolicy(
        delays=(timedelta(minutes=10),), budget=timedelta(minutes=15), jitter=0, max_attempts=10
    )
    assert isinstance(policy.decide(1, first_failed_at=NOW, now=NOW, retryable=True), Retry)
    later = NOW + timedelta(minutes=6)
    assert policy.decide(2, first_failed_at=NOW, now=later, retryable=True) == GiveUp(
        "retry_budget_exhausted"
    )


def test_non_retryable_errors_are_parked_at_once() -> None:
    assert not is_retryable(ContractViolation("bad"))
    assert not is_retryable(PermanentError("gone"))
    assert is_retryable(ConnectionError("later"))
    assert DEFAULT.decide(1, first_failed_at=NOW, now=NOW, retryable=False) == GiveUp(
        "non_retryable"
    )


def test_scaling_shrinks_every_duration_for_tests() -> None:
    fast = EMAIL.scaled(0.001)
    assert fast.delays[0] == timedelta(milliseconds=60)
    assert fast.budget == timedelta(hours=24) * 0.001
    assert EMAIL.scaled(1) is EMAIL


@pytest.mark.parametrize("kwargs", [{"delays": ()}, {"jitter": 1.0}, {"immediate": -1}])
def test_nonsense_policies_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"delay|jitter|negative"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
