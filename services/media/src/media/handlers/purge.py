"""media.purge and the purge job: objects of purged portfolios go at once, those of removed items
once the retention window ends (a removed item is not coming back, but a person who removed the
wrong one has a while to say so). Deleting is idempotent: a redelivery deletes nothing twice."""

from __future__ import annotations

from typing import Any

from events import Delivery, get_logger
from events.contracts import PortfolioPurgedV1
from media.config import Settings
from media.handlers.common import UowFactory
from media.models import Media
from media.storage import ObjectStorage
from servicekit.clock import Clock

log = get_logger("media.purge")
BATCH = 50


async def _delete_objects(storage: ObjectStorage, media: Media) -> None:
    await storage.delete_prefix(f"variants/{media.id}/")
    await storage.delete(media.original_key)


async def on_removal(
    delivery: Delivery[Any], *, uow: UowFactory, storage: ObjectStorage, settings: Settings
) -> None:
    data = delivery.data
    async with uow() as tx:
        if isinstance(data, PortfolioPurgedV1):
            doomed = await tx.media.of_portfolio(data.portfolio_id)
            for media in doomed:  # storage first: a failure retries with the rows intact
                await _delete_objects(storage, media)
                media.status, media.purge_after = "deleted", None
        else:
            for media in await tx.media.of_items([data.item_id]):
                if media.status != "deleted" and media.purge_after is None:
                    media.purge_after = data.removed_at + settings.retention
        await tx.commit()


async def purge_due(*, uow: UowFactory, storage: ObjectStorage, clock: Clock) -> int:
    """Delete the objects of media whose retention ended; returns how many went."""
    purged = 0
    while purged < 10 * BATCH:
        async with uow() as tx:
            due = await tx.media.purge_due(clock.now(), BATCH)
            for media in due:
                await _delete_objects(storage, media)
                media.status, media.purge_after = "deleted", None
            await tx.commit()
        purged += len(due)
        if len(due) < BATCH:
            break
    if purged:
        log.info("media objects purged", count=purged)
    return purged
