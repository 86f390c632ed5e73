"""Portfolios: create, read, list, change with If-Match, delete softly, restore."""

from __future__ import annotations

import base64
import uuid
from dataclasses import replace
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from events import get_logger
from events.contracts import (
    PortfolioCreatedV1,
    PortfolioDeletedV1,
    PortfolioRestoredV1,
    PortfolioUpdatedV1,
)
from events.retrying import retried
from portfolio.cache import PageCache
from portfolio.config import Settings
from portfolio.errors import (
    NotDeleted,
    OwnerNotVerified,
    PreconditionFailed,
    RetentionOver,
    SlugTaken,
)
from portfolio.handlers.common import UowFactory, access, full_view, state
from portfolio.handles import slugify
from portfolio.models import (
    Portfolio,
    PortfolioCreate,
    PortfolioPage,
    PortfolioPublic,
    PortfolioSummary,
    PortfolioUpdate,
)
from servicekit.clock import Clock
from servicekit.errors import DomainError

log = get_logger("portfolio.portfolios")


@retried
async def create_portfolio(
    caller: uuid.UUID, request: PortfolioCreate, *, uow: UowFactory, clock: Clock
) -> PortfolioPublic:
    now = clock.now()
    slug = request.slug or slugify(request.title) or "portfolio"
    async with uow() as tx:
        owner = await tx.owners.get(caller)
        if owner is None or not owner.verified:
            raise OwnerNotVerified()
        portfolio = Portfolio(
            owner_id=caller,
            title=request.title,
            slug=slug,
            description=request.description,
            visibility=request.visibility,
            created_at=now,
            updated_at=now,
        )
        tx.db.add(portfolio)
        try:
            await tx.db.flush()  # here, where a concurrent claim of the slug makes it fail
        except IntegrityError as exc:
            raise SlugTaken() from exc
        await tx.publish(
            PortfolioCreatedV1(**state(portfolio, {}), created_at=now), subject=portfolio.id
        )
        await tx.commit()
    log.info("portfolio created", portfolio_id=str(portfolio.id))
    return PortfolioPublic(
        **portfolio.model_dump(exclude={"owner_id", "deleted_at"}),
        owner_id=caller,
        owner_handle=owner.handle,
        items=[],
        collaborators=[],
    )


async def get_portfolio(
    caller: uuid.UUID | None, portfolio_id: uuid.UUID, *, uow: UowFactory
) -> PortfolioPublic:
    async with uow() as tx:
        found = await access(tx, portfolio_id, caller, "read")
        return await full_view(tx, found)


def _cursor(portfolio: Portfolio) -> str:
    raw = f"{portfolio.created_at.isoformat()}|{portfolio.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _after(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    if not cursor:
        return None
    try:
        created, last = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(created), uuid.UUID(last)
    except ValueError as exc:
        raise InvalidCursor() from exc


class InvalidCursor(DomainError):
    status, slug, title = 400, "invalid-cursor", "Bad request"
    detail = "This cursor is not one we gave out; start from the first page."


async def list_mine(
    caller: uuid.UUID, cursor: str | None, limit: int | None, *, uow: UowFactory, settings: Settings
) -> PortfolioPage:
    size = min(limit or settings.page_size, 100)
    async with uow() as tx:
        rows = await tx.portfolios.of_owner(caller, _after(cursor), size + 1)
    page = rows[:size]
    return PortfolioPage(
        items=[PortfolioSummary.model_validate(p, from_attributes=True) for p in page],
        next_cursor=_cursor(page[-1]) if len(rows) > size else None,
    )


@retried
async def update_portfolio(
    caller: uuid.UUID,
    portfolio_id: uuid.UUID,
    expected: int,
    request: PortfolioUpdate,
    *,
    uow: UowFactory,
    clock: Clock,
    cache: PageCache,
) -> PortfolioPublic:
    now = clock.now()
    changes = {name: getattr(request, name) for name in sorted(request.model_fields_set)}
    async with uow() as tx:
        found = await access(tx, portfolio_id, caller, "update_portfolio")
        previous_slug = found.portfolio.slug
        try:
            portfolio = await tx.portfolios.change(portfolio_id, expected, now, **changes)
        except IntegrityError as exc:
            raise SlugTaken() from exc
        if portfolio is None:
            raise PreconditionFailed()
        moved = portfolio.slug != previous_slug
        await tx.publish(
            PortfolioUpdatedV1(
                **state(portfolio, found.collaborators),
                changed=list(changes),
                previous_slug=previous_slug if moved else None,
                updated_at=now,
            ),
            subject=portfolio.id,
        )
        result = await full_view(tx, replace(found, portfolio=portfolio))
        await tx.commit()
    await cache.forget(result.owner_handle, portfolio.slug, previous_slug)
    return result


@retried
async def delete_portfolio(
    caller: uuid.UUID,
    portfolio_id: uuid.UUID,
    expected: int,
    *,
    uow: UowFactory,
    clock: Clock,
    settings: Settings,
    cache: PageCache,
) -> None:
    now = clock.now()
    async with uow() as tx:
        await access(tx, portfolio_id, caller, "delete")
        portfolio = await tx.portfolios.change(portfolio_id, expected, now, deleted_at=now)
        if portfolio is None:
            raise PreconditionFailed()
        await tx.publish(
            PortfolioDeletedV1(
                portfolio_id=portfolio.id,
                owner_id=portfolio.owner_id,
                version=portfolio.version,
                slug=portfolio.slug,
                deleted_at=now,
                purge_after=now + settings.retention,
            ),
            subject=portfolio.id,
        )
        owner = await tx.owners.get(portfolio.owner_id)
        await tx.commit()
    if owner is not None:
        await cache.forget(owner.handle, portfolio.slug)
    log.info("portfolio deleted", portfolio_id=str(portfolio_id))


@retried
async def restore_portfolio(
    caller: uuid.UUID,
    portfolio_id: uuid.UUID,
    *,
    uow: UowFactory,
    clock: Clock,
    settings: Settings,
    cache: PageCache,
) -> PortfolioPublic:
    now = clock.now()
    async with uow() as tx:
        found = await access(tx, portfolio_id, caller, "restore", deleted=True)
        deleted_at = found.portfolio.deleted_at
        if deleted_at is None:
            raise NotDeleted()
        if deleted_at + settings.retention <= now:
            raise RetentionOver()
        try:
            portfolio = await tx.portfolios.restore(portfolio_id, now)
            await tx.db.flush()
        except IntegrityError as exc:
            raise SlugTaken("A live portfolio took this slug meanwhile; rename it first.") from exc
        assert portfolio is not None  # found above, under the same transaction
        await tx.publish(
            PortfolioRestoredV1(**state(portfolio, found.collaborators), restored_at=now),
            subject=portfolio.id,
        )
        result = await full_view(tx, replace(found, portfolio=portfolio))
        await tx.commit()
    await cache.forget(result.owner_handle, portfolio.slug)
    return result
