"""One document per public portfolio, rendered from the projection and written to the index in
the transaction that changed the projection: if the index is down, the change rolls back with
the inbox row and the delivery is retried, so the projection and the index never disagree."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from search.index import SearchDocument, SearchIndex, SearchItem
from search.models import PortfolioState
from search.unit_of_work import SearchUnitOfWork

UowFactory = Callable[[], SearchUnitOfWork]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


async def render(tx: SearchUnitOfWork, portfolio: PortfolioState) -> SearchDocument | None:
    """The document of a public portfolio; None for one that must not be found."""
    if portfolio.deleted or portfolio.visibility != "public":
        return None
    items = await tx.projection.live_items(portfolio.portfolio_id)
    thumbs = await tx.projection.thumbnails([i.media_id for i in items if i.media_id])
    owner = await tx.projection.owner(portfolio.owner_id)
    rendered = tuple(
        SearchItem(
            item_id=i.item_id,
            title=i.title,
            description=i.description,
            thumbnail=thumbs.get(i.media_id) if i.media_id else None,
        )
        for i in items
    )
    return SearchDocument(
        portfolio_id=portfolio.portfolio_id,
        owner_id=portfolio.owner_id,
        owner_name=owner.display_name if owner else "",
        title=portfolio.title,
        description=portfolio.description,
        items=rendered,
        thumbnail=next((i.thumbnail for i in rendered if i.thumbnail), None),
        updated_at=portfolio.updated_at or EPOCH,
        version=portfolio.revision,
    )


async def reindex_one(tx: SearchUnitOfWork, index: SearchIndex, portfolio: PortfolioState) -> None:
    """Count a change (the portfolio is locked) and write its document, or its removal."""
    portfolio.revision += 1
    document = await render(tx, portfolio)
    if document is None:
        await index.delete(portfolio.portfolio_id, portfolio.revision)
    else:
        await index.upsert(document)


async def reindex_portfolios(
    tx: SearchUnitOfWork, index: SearchIndex, portfolio_ids: list[uuid.UUID]
) -> None:
    """Re-render portfolios another event touched (a thumbnail, an owner's name); locked in id
    order, as every writer of several portfolios does."""
    for portfolio_id in sorted(portfolio_ids):
        current = await tx.projection.portfolio(portfolio_id)
        if current is None:
            continue
        locked = await tx.projection.lock(portfolio_id, current.owner_id)
        await reindex_one(tx, index, locked)
