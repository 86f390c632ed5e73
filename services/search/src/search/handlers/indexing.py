"""search.index_portfolio, search.index_media, search.owners: the projection kept in step with
its services' events, and each change's document written to the index.

Events may arrive late, twice or out of order: portfolio-level changes apply only when newer
than the portfolio's applied version, item changes only when newer than that item's, thumbnails
only when newer than that media's; a duplicate is absorbed by the inbox.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert

from events import Delivery
from events.contracts import (
    MediaProcessedV1,
    PortfolioCreatedV1,
    PortfolioDeletedV1,
    PortfolioItemAddedV1,
    PortfolioItemUpdatedV1,
    PortfolioPurgedV1,
    PortfolioRestoredV1,
    PortfolioUpdatedV1,
    UserRegisteredV1,
)
from search.handlers.documents import UowFactory, reindex_one, reindex_portfolios
from search.index import SearchIndex
from search.metrics import observe_lag
from search.models import ItemState, MediaThumbnail, Owner, PortfolioState
from search.unit_of_work import SearchUnitOfWork

_STATE = (PortfolioCreatedV1, PortfolioUpdatedV1, PortfolioRestoredV1)
_GONE = (PortfolioDeletedV1, PortfolioPurgedV1)
_ITEM = (PortfolioItemAddedV1, PortfolioItemUpdatedV1)


def _when(data: Any) -> datetime:
    for name in ("updated_at", "created_at", "restored_at", "added_at", "removed_at"):
        value = getattr(data, name, None)
        if isinstance(value, datetime):
            return value
    return datetime.now(UTC)


async def _apply(tx: SearchUnitOfWork, portfolio: PortfolioState, data: Any) -> bool:
    """Change the projection as `data` says; False if it is stale (nothing to index)."""
    if isinstance(data, (*_STATE, *_GONE)):
        if data.version <= portfolio.version:
            return False
        portfolio.version = data.version
        if isinstance(data, _GONE):
            portfolio.deleted = True
        else:
            portfolio.title, portfolio.description = data.title, data.description
            portfolio.visibility, portfolio.deleted = data.visibility, False
            portfolio.updated_at = _when(data)
        return True
    item = await tx.projection.item(data.item_id)
    if item is not None and data.version <= item.version:
        return False
    if item is None:
        item = ItemState(item_id=data.item_id, portfolio_id=data.portfolio_id)
        tx.db.add(item)
    item.version = data.version
    if isinstance(data, _ITEM):
        item.title, item.description = data.title, data.description
        item.position, item.media_id, item.removed = data.position, data.media_id, False
    else:
        item.removed = True
    portfolio.updated_at = max(portfolio.updated_at or _when(data), _when(data))
    return True


async def index_portfolio(delivery: Delivery[Any], *, uow: UowFactory, index: SearchIndex) -> None:
    data = delivery.data
    async with uow() as tx:
        if not await tx.claim(delivery):
            return
        portfolio = await tx.projection.lock(data.portfolio_id, data.owner_id)
        changed = await _apply(tx, portfolio, data)
        if changed:
            await tx.db.flush()
            await reindex_one(tx, index, portfolio)
        await tx.commit()
    if changed:
        observe_lag(delivery.event.type, delivery.event.time)


async def index_media(
    delivery: Delivery[MediaProcessedV1], *, uow: UowFactory, index: SearchIndex
) -> None:
    """A processed image: its thumbnail joins the documents whose items show it."""
    data = delivery.data
    async with uow() as tx:
        if not await tx.claim(delivery):
            return
        statement = insert(MediaThumbnail).values(
            media_id=data.media_id, thumbnail_key=data.thumbnail_key, version=data.version
        )
        written = await tx.db.exec(
            statement.on_conflict_do_update(
                index_elements=["media_id"],
                set_={"thumbnail_key": data.thumbnail_key, "version": data.version},
                where=MediaThumbnail.__table__.c.version < data.version,  # type: ignore[attr-defined]
            )
        )
        if written.rowcount:
            await reindex_portfolios(
                tx, index, await tx.projection.portfolios_showing(data.media_id)
            )
        await tx.commit()
    if written.rowcount:
        observe_lag(delivery.event.type, delivery.event.time)


async def record_owner(
    delivery: Delivery[UserRegisteredV1], *, uow: UowFactory, index: SearchIndex
) -> None:
    """An owner's display name, for their documents (it arrives once, at registration)."""
    data = delivery.data
    async with uow() as tx:
        if not await tx.claim(delivery):
            return
        await tx.db.exec(
            insert(Owner)
            .values(user_id=data.user_id, display_name=data.display_name)
            .on_conflict_do_nothing()
        )
        await reindex_portfolios(tx, index, await tx.projection.of_owner(data.user_id))
        await tx.commit()
