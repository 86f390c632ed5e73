"""portfolio.media_status: an item's image is ready (with its variants) or failed.

A report applies only to the media the item still shows and only if it is newer than the last
one applied (media's version): a stale, repeated or superseded report changes nothing. The
portfolio's row is locked first, as every item writer does, so no two writers deadlock.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import col

from events import Delivery, get_logger
from events.contracts import MediaFailedV1, MediaProcessedV1
from portfolio.cache import PageCache
from portfolio.handlers.cache import clear_cached_page
from portfolio.handlers.common import UowFactory
from portfolio.models import Item
from servicekit.clock import Clock

log = get_logger("portfolio.media_status")


async def apply_media_report(
    delivery: Delivery[MediaProcessedV1 | MediaFailedV1],
    *,
    uow: UowFactory,
    clock: Clock,
    cache: PageCache,
) -> None:
    data = delivery.data
    if data.item_id is None or data.portfolio_id is None:
        return  # media not attached to an item
    values: dict[str, Any]
    if isinstance(data, MediaProcessedV1):
        values = {
            "media_status": "ready",
            "variants": [v.model_dump() for v in data.variants],
            "thumbnail_key": data.thumbnail_key,
        }
    else:
        values = {"media_status": "failed", "variants": [], "thumbnail_key": None}
    now = clock.now()
    async with uow() as tx:
        if not await tx.claim(delivery):
            # Applied before; the clear after it may have failed (cache down): clear again.
            await clear_cached_page(delivery, uow=uow, cache=cache)
            return
        locked = await tx.portfolios.lock(data.portfolio_id)
        result = await tx.db.exec(
            update(Item)
            .where(
                col(Item.id) == data.item_id,
                col(Item.media_id) == data.media_id,
                col(Item.media_version) < data.version,
            )
            .values(media_version=data.version, updated_at=now, **values)
        )
        applied = locked is not None and bool(result.rowcount)
        portfolio = await tx.portfolios.change(data.portfolio_id, None, now) if applied else None
        owner = await tx.owners.get(portfolio.owner_id) if portfolio else None
        await tx.commit()
    if portfolio is None:
        log.info("media report ignored", media_id=str(data.media_id), version=data.version)
        return
    if owner is not None:
        # The item's images changed the public page: clear it (retried until the cache is up).
        await cache.forget(owner.handle, portfolio.slug, strict=True)
    log.info("item media updated", item_id=str(data.item_id), status=values["media_status"])
