"""The public-page cache on Redis (redis.asyncio), with short timeouts and a back-off.

After a failure the cache is skipped for `retry_after_failure_s`, so an outage costs each
request nothing instead of a timeout; the first request after that window tries Redis again.
"""

from __future__ import annotations

import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from events import get_logger
from portfolio.cache import CACHE_REQUESTS, CacheUnavailable, page_key
from portfolio.config import RedisSettings
from servicekit.http import Degraded

log = get_logger("portfolio.cache")


class RedisPageCache:
    def __init__(self, settings: RedisSettings) -> None:
        self._settings = settings
        self._redis = Redis.from_url(
            settings.url.get_secret_value(),
            socket_timeout=settings.timeout_s,
            socket_connect_timeout=settings.timeout_s,
            retry_on_timeout=False,
        )
        self._down_until = 0.0

    def _key(self, handle: str, slug: str) -> str:
        return page_key(self._settings.key_prefix, handle, slug)

    def _skip(self) -> bool:
        return time.monotonic() < self._down_until

    def _failed(self, operation: str, exc: Exception) -> None:
        if not self._skip():  # one warning per outage window, not one per request
            log.warning(
                "cache unavailable; serving from the database", op=operation, error=repr(exc)
            )
        self._down_until = time.monotonic() + self._settings.retry_after_failure_s

    async def get(self, handle: str, slug: str) -> bytes | None:
        if self._skip():
            CACHE_REQUESTS.labels("error").inc()
            return None
        try:
            page = await self._redis.get(self._key(handle, slug))
        except (RedisError, OSError) as exc:
            self._failed("get", exc)
            CACHE_REQUESTS.labels("error").inc()
            return None
        CACHE_REQUESTS.labels("hit" if page is not None else "miss").inc()
        return page if isinstance(page, bytes) else None

    async def put(self, handle: str, slug: str, page: bytes) -> None:
        if self._skip():
            return
        ttl = int(self._settings.page_ttl.total_seconds())
        try:
            await self._redis.set(self._key(handle, slug), page, ex=ttl)
        except (RedisError, OSError) as exc:
            self._failed("put", exc)

    async def forget(self, handle: str, *slugs: str, strict: bool = False) -> None:
        keys = [self._key(handle, slug) for slug in slugs if slug]
        if not keys:
            return
        try:
            await self._redis.delete(*keys)
        except (RedisError, OSError) as exc:
            self._failed("forget", exc)
            if strict:
                raise CacheUnavailable(f"could not clear {len(keys)} cached page(s)") from exc

    async def check(self) -> None:
        try:
            await self._redis.ping()
        except (RedisError, OSError) as exc:
            raise Degraded(
                f"cache unreachable ({type(exc).__name__}); reads use the database"
            ) from exc

    async def close(self) -> None:
        await self._redis.aclose()
