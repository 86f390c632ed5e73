"""What media's use cases share: who may do what with an item's media, and the answers."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from media.errors import ItemNotFound, MediaNotFound, NotAllowed
from media.models import ItemAccess, Media, MediaPublic, PortfolioAccess, Variant, VariantPublic
from media.storage import ObjectStorage
from media.unit_of_work import MediaUnitOfWork

UowFactory = Callable[[], MediaUnitOfWork]


def role_of(portfolio: PortfolioAccess, caller: uuid.UUID | None) -> str:
    if caller is None:
        return "anonymous"
    if caller == portfolio.owner_id:
        return "owner"
    return portfolio.collaborators.get(str(caller), "stranger")


def may_see(portfolio: PortfolioAccess | None, caller: uuid.UUID | None) -> bool:
    if portfolio is None or portfolio.deleted:
        return False
    return role_of(portfolio, caller) in ("owner", "editor", "viewer") or portfolio.visibility in (
        "public",
        "unlisted",
    )


async def editable_item(
    tx: MediaUnitOfWork, item_id: uuid.UUID, caller: uuid.UUID
) -> tuple[ItemAccess, PortfolioAccess]:
    """The item, if the caller may change its image: 404 for who may not see it, 403 otherwise.
    Until portfolio's events about a new item arrive here, the item is unknown (404)."""
    item = await tx.access.item(item_id)
    portfolio = await tx.access.portfolio(item.portfolio_id) if item else None
    if item is None or item.removed or not may_see(portfolio, caller):
        raise ItemNotFound()
    assert portfolio is not None
    if role_of(portfolio, caller) not in ("owner", "editor"):
        raise NotAllowed()
    return item, portfolio


async def visible_media(
    tx: MediaUnitOfWork, media_id: uuid.UUID, caller: uuid.UUID | None
) -> tuple[Media, PortfolioAccess]:
    media = await tx.media.get(media_id)
    portfolio = await tx.access.portfolio(media.portfolio_id) if media else None
    if media is None or media.status == "deleted" or not may_see(portfolio, caller):
        raise MediaNotFound()
    assert portfolio is not None
    return media, portfolio


async def answer(
    media: Media,
    variants: list[Variant],
    *,
    storage: ObjectStorage | None = None,
    ttl: timedelta | None = None,
    now: datetime | None = None,
) -> MediaPublic:
    """The media as the API shows it; with `storage`, each variant has a signed URL."""
    public = []
    for variant in variants:
        url = await storage.presigned_get(variant.object_key, expires_in=ttl) if storage else ""
        public.append(
            VariantPublic(
                name=variant.name,
                width=variant.width,
                height=variant.height,
                content_type=variant.content_type,
                size_bytes=variant.size_bytes,
                url=url,
            )
        )
    return MediaPublic(
        id=media.id,
        status=media.status,
        portfolio_id=media.portfolio_id,
        item_id=media.item_id,
        content_type=media.content_type,
        size_bytes=media.size_bytes,
        width=media.width,
        height=media.height,
        version=media.version,
        failure_reason=media.failure_reason,
        variants=public,
        urls_expire_at=(now + ttl) if (storage and ttl and now and variants) else None,
    )
