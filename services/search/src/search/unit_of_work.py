"""Search's unit of work: the projection's repositories, the inbox, in one transaction."""

from __future__ import annotations

import uuid
from typing import Self

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from events import UnitOfWork
from search.models import ItemState, MediaThumbnail, Owner, PortfolioState


class Projection:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def lock(self, portfolio_id: uuid.UUID, owner_id: uuid.UUID) -> PortfolioState:
        """The portfolio's row, locked until the transaction ends (created empty if its first
        event is late): one portfolio's changes are applied, and indexed, one at a time."""
        await self.db.exec(
            insert(PortfolioState)
            .values(portfolio_id=portfolio_id, owner_id=owner_id)
            .on_conflict_do_nothing()
        )
        query = (
            select(PortfolioState)
            .where(PortfolioState.portfolio_id == portfolio_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.db.exec(query)).one()

    async def portfolio(self, portfolio_id: uuid.UUID) -> PortfolioState | None:
        return await self.db.get(PortfolioState, portfolio_id)

    async def all_portfolios(self) -> list[PortfolioState]:
        return list((await self.db.exec(select(PortfolioState))).all())

    async def of_owner(self, owner_id: uuid.UUID) -> list[uuid.UUID]:
        query = select(PortfolioState.portfolio_id).where(PortfolioState.owner_id == owner_id)
        return list((await self.db.exec(query)).all())

    async def item(self, item_id: uuid.UUID) -> ItemState | None:
        return await self.db.get(ItemState, item_id)

    async def live_items(self, portfolio_id: uuid.UUID) -> list[ItemState]:
        query = (
            select(ItemState)
            .where(ItemState.portfolio_id == portfolio_id, col(ItemState.removed).is_(False))
            .order_by(col(ItemState.position), col(ItemState.item_id))
        )
        return list((await self.db.exec(query)).all())

    async def portfolios_showing(self, media_id: uuid.UUID) -> list[uuid.UUID]:
        query = select(ItemState.portfolio_id).where(ItemState.media_id == media_id).distinct()
        return list((await self.db.exec(query)).all())

    async def thumbnails(self, media_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
        query = select(MediaThumbnail).where(col(MediaThumbnail.media_id).in_(media_ids))
        return {t.media_id: t.thumbnail_key for t in (await self.db.exec(query)).all()}

    async def owner(self, user_id: uuid.UUID) -> Owner | None:
        return await self.db.get(Owner, user_id)


class SearchUnitOfWork(UnitOfWork):
    projection: Projection

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.projection = Projection(self.db)
        return self
