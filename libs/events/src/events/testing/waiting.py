"""Waiting on a condition with a deadline: tests never sleep and hope."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any


async def wait_for(
    predicate: Callable[[], bool | Coroutine[Any, Any, bool]],
    *,
    timeout: float = 10.0,
    interval: float = 0.02,
    message: str | Callable[[], str] = "condition not met",
) -> None:
    """Wait until `predicate` holds, or fail after `timeout` seconds saying what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout}s: {text}")
        await asyncio.sleep(interval)
