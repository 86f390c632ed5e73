"""Retrying a whole transaction that PostgreSQL aborted to break a deadlock or a serialization
conflict (SQLSTATE 40P01, 40001): the work was rolled back, so running it again is safe.

Only these two are retried, a bounded number of times with jittered backoff; any other error, or
the last conflict, propagates. Callers still lock rows in a fixed order: the retry is the backstop
for the orders a use case cannot control, not a licence to deadlock.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from sqlalchemy.exc import DBAPIError

from events.logs import get_logger

log = get_logger("events.retrying")
P = ParamSpec("P")
T = TypeVar("T")

CONFLICTS = {"40P01": "deadlock", "40001": "serialization failure"}


def conflict_of(exc: BaseException) -> str | None:
    """The kind of conflict `exc` reports (deadlock, serialization failure), or None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for attribute in ("sqlstate", "pgcode"):
            code = getattr(current, attribute, None)
            if isinstance(code, str) and code in CONFLICTS:
                return CONFLICTS[code]
        current = getattr(current, "orig", None) or current.__cause__
    return None


async def retry_conflicts(
    run: Callable[[], Awaitable[T]],
    *,
    attempts: int = 4,
    base_delay_s: float = 0.02,
    rng: random.Random | None = None,
) -> T:
    """`run()` (one whole transaction), again after a deadlock or serialization failure."""
    jitter = rng or random.Random()  # noqa: S311 - backoff jitter, not security
    for attempt in range(attempts + 1):
        try:
            return await run()
        except DBAPIError as exc:
            kind = conflict_of(exc)
            if kind is None or attempt == attempts:
                raise
            delay = base_delay_s * 2**attempt * jitter.uniform(0.5, 1.5)
            log.warning("transaction conflict; retrying", conflict=kind, attempt=attempt + 1)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def retried(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Decorate a use case whose body is one transaction: it is retried on conflicts."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        return await retry_conflicts(lambda: fn(*args, **kwargs))

    return wrapper
