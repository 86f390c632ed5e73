"""Reading a media record: its status and, for whoever may see it, signed URLs of its variants
(short-lived for private portfolios, longer for public and unlisted ones)."""

from __future__ import annotations

import uuid

from media.config import Settings
from media.errors import StorageDown
from media.handlers.common import UowFactory, answer, visible_media
from media.models import MediaPublic
from media.storage import ObjectStorage, StorageUnavailable
from servicekit.clock import Clock


async def get_media(
    caller: uuid.UUID | None,
    media_id: uuid.UUID,
    *,
    uow: UowFactory,
    storage: ObjectStorage,
    settings: Settings,
    clock: Clock,
) -> MediaPublic:
    async with uow() as tx:
        media, portfolio = await visible_media(tx, media_id, caller)
        variants = await tx.media.variants(media.id)
    public = portfolio.visibility in ("public", "unlisted")
    ttl = settings.public_url_ttl if public else settings.private_url_ttl
    try:
        return await answer(media, variants, storage=storage, ttl=ttl, now=clock.now())
    except StorageUnavailable as exc:
        raise StorageDown() from exc
