"""The public-page cache: the port, its keys, and its hit/miss/error counts.

Cache-aside: a public read looks here first and fills the entry from PostgreSQL on a miss. The
cache is an optimisation, never a dependency: while it is down, reads go to the database (a
warning is logged and /readyz says "degraded"), and the request path never fails because of it.
"""

from __future__ import annotations

from typing import Protocol

from prometheus_client import Counter

CACHE_REQUESTS = Counter(
    "portfolio_cache_requests_total", "Public-page cache lookups by result.", ["result"]
)


class CacheUnavailable(Exception):
    """The cache could not be reached (or answered too slowly)."""


class PageCache(Protocol):
    async def get(self, handle: str, slug: str) -> bytes | None:
        """The cached page, or None on a miss or while the cache is down."""
        ...

    async def put(self, handle: str, slug: str, page: bytes) -> None:
        """Store a page (best effort)."""
        ...

    async def forget(self, handle: str, *slugs: str, strict: bool = False) -> None:
        """Remove the pages of these slugs; with `strict`, raise CacheUnavailable on failure
        (the event consumer retries until the cache is back, so nothing stale outlives it)."""
        ...

    async def check(self) -> None:
        """Readiness: raise servicekit.http.Degraded when the cache is down."""
        ...

    async def close(self) -> None: ...


def page_key(prefix: str, handle: str, slug: str) -> str:
    return f"{prefix}:page:{handle}:{slug}"
