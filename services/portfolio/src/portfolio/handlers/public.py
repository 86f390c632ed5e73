"""The public page of a portfolio (`/<handle>/<slug>`): anyone may read a public or unlisted one.

Cache-aside: the page is served from the cache when it is there, read from PostgreSQL and
cached when it is not. The cache is cleared after every committed change.
"""

from __future__ import annotations

from portfolio.cache import PageCache
from portfolio.errors import PortfolioNotFound
from portfolio.handlers.common import UowFactory, view


async def public_page(handle: str, slug: str, *, uow: UowFactory, cache: PageCache) -> bytes:
    """The page as JSON bytes (what is cached is exactly what is served)."""
    cached = await cache.get(handle, slug)
    if cached is not None:
        return cached
    async with uow() as tx:
        owner = await tx.owners.by_handle(handle)
        portfolio = await tx.portfolios.live_by_slug(owner.user_id, slug) if owner else None
        if owner is None or portfolio is None or portfolio.visibility == "private":
            raise PortfolioNotFound()
        items = await tx.items.live(portfolio.id)
    page = view(portfolio, items, owner.handle, None).model_dump_json().encode()
    await cache.put(handle, slug, page)
    return page
