"""portfolio.cache: clear the public page of every committed change, from the service's own
events. The request that made the change clears it already; this covers a crash between commit
and clear, changes made by event handlers, and a cache that was down when the request ran
(a failure here is retried on the backoff ladder until the cache is back).

The cache is shared (Redis), so one replica clearing a key clears it for all: a durable queue
with competing consumers is right here. A process-local cache would need a queue per replica.
"""

from __future__ import annotations

from typing import Any

from events import Delivery
from events.contracts import PortfolioUpdatedV1
from portfolio.cache import PageCache
from portfolio.handlers.common import UowFactory


async def clear_cached_page(delivery: Delivery[Any], *, uow: UowFactory, cache: PageCache) -> None:
    data = delivery.data
    async with uow() as tx:
        portfolio = await tx.portfolios.get(data.portfolio_id, deleted=True)
        if portfolio is None:
            return  # purged: its page was cleared when it was deleted
        owner = await tx.owners.get(portfolio.owner_id)
    if owner is None:
        return
    slugs = {portfolio.slug, getattr(data, "slug", None) or portfolio.slug}
    if isinstance(data, PortfolioUpdatedV1) and data.previous_slug:
        slugs.add(data.previous_slug)
    await cache.forget(owner.handle, *sorted(slugs), strict=True)
