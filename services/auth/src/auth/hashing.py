"""argon2id off the event loop, at a cost chosen on purpose, with admission control.

The cost: OWASP's password storage cheat sheet lists argon2id settings of equal strength
(m=47 MiB t=1, m=19 MiB t=2, m=12 MiB t=3, m=9 MiB t=4, m=7 MiB t=5, all p=1). Auth defaults to
m=19 MiB, t=2, p=1: about 28 ms of one core here. Settings may go above that, never below it
outside tests (`meets_floor`), and a login brings a stored hash to the current settings.

The pool: one thread per core (argon2-cffi releases the GIL while it hashes), so hashes use every
core and never the event loop. Beyond the cores, requests queue; a hash that could not finish
within the latency budget is refused at once with 503 and Retry-After (`Overloaded`), because
a burst beyond capacity would otherwise make everyone wait until every request times out.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

from argon2 import PasswordHasher as Argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from auth.errors import Overloaded
from auth.passwords import normalise

T = TypeVar("T")

_HOLDS_PLACE: ContextVar[bool] = ContextVar("argon2_holds_place", default=False)
"""Set inside `PasswordHasher.admitted()`: the request already holds its place in the queue."""

OWASP_MINIMUMS = ((47104, 1), (19456, 2), (12288, 3), (9216, 4), (7168, 5))
"""OWASP's argon2id settings of equal strength, (memory KiB, iterations), parallelism 1."""


def meets_floor(memory_cost_kib: int, time_cost: int) -> bool:
    """At least as costly as one of OWASP's equal-strength settings."""
    return any(memory_cost_kib >= m and time_cost >= t for m, t in OWASP_MINIMUMS)


@dataclass(frozen=True)
class Argon2Cost:
    time_cost: int = 2
    memory_cost_kib: int = 19456
    parallelism: int = 1


class PasswordHasher:
    """Hashes and verifies in a pool of `workers` threads (default: one per core); a request
    whose hash would wait longer than `budget_s` for a worker is refused (`Overloaded`).

    The expected wait is the work ahead (hashes running and queued, spread over the workers)
    times the recent duration of one hash, measured on its worker thread as it runs, so a slower
    machine or a busier one sheds load sooner. Waiting happens on a semaphore, not in the
    executor's queue: a request cancelled while it waits gives its turn back.
    """

    def __init__(
        self,
        cost: Argon2Cost | None = None,
        *,
        workers: int | None = None,
        budget_s: float = 1.5,
    ) -> None:
        cost = cost or Argon2Cost()
        self._argon2 = Argon2(
            time_cost=cost.time_cost,
            memory_cost=cost.memory_cost_kib,
            parallelism=cost.parallelism,
        )
        self.workers = workers or os.cpu_count() or 1
        self.budget_s = budget_s
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="argon2")
        self._slots = asyncio.Semaphore(self.workers)
        self._in_flight = 0
        self._one_hash_s = self._calibrate()
        self._dummy: str | None = None

    def _calibrate(self) -> float:
        """One hash at start: the estimate a first burst is admitted by, before any is measured."""
        started = time.perf_counter()
        self._argon2.hash("calibration: measures the cost of one hash")
        return time.perf_counter() - started

    @property
    def in_flight(self) -> int:
        """Requests admitted whose hashes are not done: running, waiting for a worker, or on
        their way to it."""
        return self._in_flight

    def expected_wait_s(self) -> float:
        """How long a hash asked for now would wait for a worker."""
        rounds_ahead = self._in_flight // self.workers
        return rounds_ahead * self._one_hash_s

    def check_capacity(self) -> None:
        """Refuse now (`Overloaded`) if a hash would wait past the budget."""
        wait = self.expected_wait_s()
        if wait > self.budget_s:
            raise Overloaded(retry_after_s=max(1, math.ceil(wait)))

    @contextmanager
    def admitted(self) -> Iterator[None]:
        """Admit a request (or refuse it, `Overloaded`) and hold its place until its hashes are
        done. Use cases enter it before they record anything, so a refused request leaves no
        trace and can be resent; and a request admitted counts against the capacity from then
        on, not only once it reaches the pool, or a burst whose requests are all between the
        check and the hash (in their database round trips) would be admitted whole."""
        if _HOLDS_PLACE.get():
            yield
            return
        self.check_capacity()
        self._in_flight += 1
        holds = _HOLDS_PLACE.set(True)
        try:
            yield
        finally:
            _HOLDS_PLACE.reset(holds)
            self._in_flight -= 1

    async def _run(self, fn: Callable[[], T]) -> T:
        def timed() -> tuple[T, float]:
            # Timed on the worker thread: the pool's occupancy, not the event loop's lag in
            # resuming the caller, which would count a busy loop again in every round ahead.
            started = time.perf_counter()
            return fn(), time.perf_counter() - started

        with self.admitted():
            async with self._slots:
                result, seconds = await asyncio.get_running_loop().run_in_executor(
                    self._pool, timed
                )
                self._observe(seconds)
                return result

    def _observe(self, seconds: float) -> None:
        # A moving average: quick to follow a machine that slows down, steady under jitter.
        self._one_hash_s = 0.8 * self._one_hash_s + 0.2 * seconds

    async def hash(self, password: str) -> str:
        argon2, plain = self._argon2, normalise(password)
        return await self._run(lambda: argon2.hash(plain))

    async def verify(self, password_hash: str, password: str) -> bool:
        argon2, plain = self._argon2, normalise(password)

        def check() -> bool:
            try:
                return argon2.verify(password_hash, plain)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

        return await self._run(check)

    async def verify_nobody(self, password: str) -> None:
        """Spend the time of a real check when the account does not exist (timing oracle)."""
        if self._dummy is None:
            self._dummy = await self.hash("not a real password: only burns the same time")
        await self.verify(self._dummy, password)

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether a stored hash was made with other settings than the current ones (either way:
        a login's cost stays predictable, which capacity planning relies on)."""
        return self._argon2.check_needs_rehash(password_hash)

    async def aclose(self) -> None:
        self._pool.shutdown(wait=False)
