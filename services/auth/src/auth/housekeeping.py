"""The worker's periodic retention pass: login audit rows, spent tokens and ended sessions."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from events.logs import get_logger

log = get_logger("auth.housekeeping")


class Housekeeper:
    """Runs `prune` at start and then every `interval_s` until stopped.

    A failed pass is logged and retried at the next interval: retention is never urgent, and
    a database hiccup must not take the worker down with it.
    """

    def __init__(self, prune: Callable[[], Awaitable[object]], interval_s: float) -> None:
        self._prune = prune
        self._interval_s = interval_s
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name="auth-housekeeping")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self._prune()
            except Exception as exc:
                log.error("retention pass failed; retrying at the next interval", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._interval_s)
