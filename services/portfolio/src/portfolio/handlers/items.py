"""Items: add a batch, change one with If-Match, remove one, set every position at once.

Every write takes the portfolio's row lock first (by bumping its version), then item locks in id
order: concurrent writers of one portfolio line up, and two writers never wait on each other in
a cycle. A batch is one transaction: an invalid item leaves no row and no event behind.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

from events import get_logger
from events.contracts import PortfolioItemAddedV1, PortfolioItemRemovedV1, PortfolioItemUpdatedV1
from events.retrying import retried
from portfolio.cache import PageCache
from portfolio.config import Settings
from portfolio.errors import (
    InvalidOrder,
    ItemNotFound,
    PortfolioNotFound,
    PreconditionFailed,
    TooManyItems,
)
from portfolio.handlers.common import UowFactory, access, full_view, item_state
from portfolio.models import Item, ItemCreate, ItemPublic, ItemUpdate, PortfolioPublic, Reorder
from servicekit.clock import Clock

log = get_logger("portfolio.items")


@retried
async def add_items(
    caller: uuid.UUID,
    portfolio_id: uuid.UUID,
    requests: list[ItemCreate],
    *,
    uow: UowFactory,
    clock: Clock,
    settings: Settings,
    cache: PageCache,
) -> PortfolioPublic:
    now = clock.now()
    async with uow() as tx:
        found = await access(tx, portfolio_id, caller, "update_items")
        portfolio = await tx.portfolios.change(portfolio_id, None, now)
        if portfolio is None:
            raise PortfolioNotFound()
        count = await tx.items.count_live(portfolio_id)
        position = await tx.items.next_position(portfolio_id)
        for request in requests:
            if count >= settings.max_items:
                raise TooManyItems(f"A portfolio holds at most {settings.max_items} items.")
            item = Item(
                portfolio_id=portfolio_id,
                position=position,
                title=request.title,
                description=request.description,
                media_id=request.media_id,
                media_status="processing" if request.media_id else "none",
                created_at=now,
                updated_at=now,
            )
            tx.db.add(item)
            await tx.db.flush()
            await tx.publish(
                PortfolioItemAddedV1(**item_state(item, portfolio), added_at=now),
                subject=portfolio_id,
            )
            count, position = count + 1, position + 1
        result = await full_view(tx, replace(found, portfolio=portfolio))
        await tx.commit()
    await cache.forget(result.owner_handle, portfolio.slug)
    log.info("items added", portfolio_id=str(portfolio_id), count=len(requests))
    return result


@retried
async def update_item(
    caller: uuid.UUID,
    portfolio_id: uuid.UUID,
    item_id: uuid.UUID,
    expected: int,
    request: ItemUpdate,
    *,
    uow: UowFactory,
    clock: Clock,
    cache: PageCache,
) -> ItemPublic:
    now = clock.now()
    changes = {name: getattr(request, name) for name in sorted(request.model_fields_set)}
    async with uow() as tx:
        await access(tx, portfolio_id, caller, "update_items")
        before = await tx.items.get(portfolio_id, item_id)
        if before is None:
            raise ItemNotFound()
        if "media_id" in changes and changes["media_id"] != before.media_id:
            # A new image starts over: media reports about the old one no longer apply.
            media = changes["media_id"]
            changes |= {
                "media_status": "processing" if media else "none",
                "media_version": 0,
                "variants": [],
                "thumbnail_key": None,
            }
        portfolio = await tx.portfolios.change(portfolio_id, None, now)
        if portfolio is None:
            raise PortfolioNotFound()
        item = await tx.items.change(portfolio_id, item_id, expected, now, **changes)
        if item is None:
            raise PreconditionFailed()
        await tx.publish(
            PortfolioItemUpdatedV1(
                **item_state(item, portfolio),
                changed=[c for c in changes if c in ("title", "description", "media_id")],
                updated_at=now,
            ),
            subject=portfolio_id,
        )
        owner = await tx.owners.get(portfolio.owner_id)
        await tx.commit()
    if owner is not None:
        await cache.forget(owner.handle, portfolio.slug)
    return ItemPublic.of(item)


@retried
async def remove_item(
    caller: uuid.UUID,
    portfolio_id: uuid.UUID,
    item_id: uuid.UUID,
    expected: int,
    *,
    uow: UowFactory,
    clock: Clock,
    cache: PageCache,
) -> None:
    now = clock.now()
    async with uow() as tx:
        await access(tx, portfolio_id, caller, "update_items")
        if await tx.items.get(portfolio_id, item_id) is None:
            raise ItemNotFound()
        portfolio = await tx.portfolios.change(portfolio_id, None, now)
        if portfolio is None:
            raise PortfolioNotFound()
        item = await tx.items.change(portfolio_id, item_id, expected, now, deleted_at=now)
        if item is None:
            raise PreconditionFailed()
        await tx.publish(
            PortfolioItemRemovedV1(
                portfolio_id=portfolio_id,
                owner_id=portfolio.owner_id,
                version=portfolio.version,
                item_id=item_id,
                media_id=item.media_id,
                removed_at=now,
            ),
            subject=portfolio_id,
        )
        owner = await tx.owners.get(portfolio.owner_id)
        await tx.commit()
    if owner is not None:
        await cache.forget(owner.handle, portfolio.slug)


@retried
async def reorder_items(
    caller: uuid.UUID,
    portfolio_id: uuid.UUID,
    expected: int,
    request: Reorder,
    *,
    uow: UowFactory,
    clock: Clock,
    cache: PageCache,
) -> PortfolioPublic:
    """Set every position at once; the portfolio's If-Match guards against a stale order."""
    now = clock.now()
    async with uow() as tx:
        found = await access(tx, portfolio_id, caller, "update_items")
        portfolio = await tx.portfolios.change(portfolio_id, expected, now)
        if portfolio is None:
            raise PreconditionFailed()
        items = await tx.items.live(portfolio_id, lock=True)  # locked in id order
        if {i.id for i in items} != set(request.item_ids):
            raise InvalidOrder()
        by_id = {i.id: i for i in items}
        for position, item_id in enumerate(request.item_ids):
            item = by_id[item_id]
            if item.position == position:
                continue
            changed = await tx.items.change(portfolio_id, item_id, None, now, position=position)
            assert changed is not None  # locked above
            await tx.publish(
                PortfolioItemUpdatedV1(
                    **item_state(changed, portfolio), changed=["position"], updated_at=now
                ),
                subject=portfolio_id,
            )
        result = await full_view(tx, replace(found, portfolio=portfolio))
        await tx.commit()
    await cache.forget(result.owner_handle, portfolio.slug)
    return result
