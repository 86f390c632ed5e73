"""Media's unit of work: the transaction, its repositories, the outbox and inbox in it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Self

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from events import UnitOfWork
from media.models import ItemAccess, Media, PortfolioAccess, Variant


class MediaRecords:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def get(self, media_id: uuid.UUID, *, lock: bool = False) -> Media | None:
        query = select(Media).where(Media.id == media_id)
        if lock:
            query = query.with_for_update()
        return (await self.db.exec(query)).first()

    async def variants(self, media_id: uuid.UUID) -> list[Variant]:
        query = select(Variant).where(Variant.media_id == media_id).order_by(col(Variant.name))
        return list((await self.db.exec(query)).all())

    async def replace_variants(self, media_id: uuid.UUID, variants: list[Variant]) -> None:
        await self.db.exec(delete(Variant).where(col(Variant.media_id) == media_id))
        self.db.add_all(variants)

    async def of_items(self, item_ids: list[uuid.UUID]) -> list[Media]:
        query = select(Media).where(col(Media.item_id).in_(item_ids)).with_for_update()
        return list((await self.db.exec(query)).all())

    async def of_portfolio(self, portfolio_id: uuid.UUID) -> list[Media]:
        query = select(Media).where(Media.portfolio_id == portfolio_id).with_for_update()
        return list((await self.db.exec(query)).all())

    async def purge_due(self, now: datetime, limit: int) -> list[Media]:
        """Media whose retention ended; claimed with SKIP LOCKED (replicas side by side)."""
        query = (
            select(Media)
            .where(col(Media.purge_after) < now, Media.status != "deleted")
            .order_by(col(Media.purge_after))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list((await self.db.exec(query)).all())


class Access:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def portfolio(self, portfolio_id: uuid.UUID) -> PortfolioAccess | None:
        return await self.db.get(PortfolioAccess, portfolio_id)

    async def item(self, item_id: uuid.UUID) -> ItemAccess | None:
        return await self.db.get(ItemAccess, item_id)


class MediaUnitOfWork(UnitOfWork):
    media: MediaRecords
    access: Access

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.media = MediaRecords(self.db)
        self.access = Access(self.db)
        return self
