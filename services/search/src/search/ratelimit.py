"""Token buckets per client address, in the process: anonymous search stays cheap for everyone.

Each replica limits on its own (a client spread over N replicas gets N times the rate): enough
to stop one address from flooding the index, and no shared state to fail.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self,
        per_second: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 100_000,
    ) -> None:
        self._rate, self._burst, self._clock = per_second, burst, clock
        self._max = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, client: str) -> float:
        """0 if the request may go ahead, else the seconds until it may."""
        now = self._clock()
        tokens, then = self._buckets.pop(client, (float(self._burst), now))
        tokens = min(float(self._burst), tokens + (now - then) * self._rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self._rate
        self._buckets[client] = (tokens, now)  # the most recent last
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)  # the least recently seen goes
        return wait

    def retry_after(self, client: str) -> int:
        """`take`, as whole seconds for a Retry-After (0: go ahead)."""
        wait = self.take(client)
        return math.ceil(wait) if wait > 0 else 0
