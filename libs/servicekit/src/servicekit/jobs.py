"""Periodic jobs (retention, purges, reconciliation) run by the worker beside the consumer.

Each job is a use case bound like any other; it runs once shortly after start and then every
interval. A failed run is logged and reported, then retried at the next interval: a periodic job
is never urgent, and a database hiccup must not take the worker down with it. Replicas may run
the same job side by side, so jobs are written to be idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sentry_sdk

from events.logs import get_logger

log = get_logger("servicekit.jobs")


@dataclass(frozen=True)
class Job:
    """`run` every `every(settings)`; `run` is a use case, its dependencies bound by name."""

    name: str
    run: Callable[..., Awaitable[Any]]
    every: Callable[[Any], timedelta]


class JobRunner:
    """Runs bound jobs on their intervals until stopped (a component of the worker)."""

    name = "jobs"

    def __init__(
        self,
        jobs: list[tuple[str, Callable[[], Awaitable[Any]], float]],
        *,
        jitter: float = 0.1,
    ) -> None:
        self._jobs = jobs
        self._jitter = jitter
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.runs: dict[str, int] = {name: 0 for name, _, _ in jobs}

    async def start(self) -> None:
        self._stop.clear()
        self._tasks = [
            asyncio.create_task(self._loop(name, fn, interval), name=f"job-{name}")
            for name, fn, interval in self._jobs
        ]

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _loop(self, name: str, fn: Callable[[], Awaitable[Any]], interval: float) -> None:
        while not self._stop.is_set():
            try:
                result = await fn()
                self.runs[name] += 1
                if result:
                    log.info("job ran", job=name, result=result)
            except Exception as exc:
                log.error("job failed; retrying at the next interval", job=name, error=repr(exc))
                sentry_sdk.capture_exception(exc)
            # Jitter spreads replicas that started together.
            wait = interval * (1 - self._jitter * random.random())  # noqa: S311
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), wait)
