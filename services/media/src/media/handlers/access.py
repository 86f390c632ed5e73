"""media.portfolio_access: who may upload to and read each item's media, from portfolio's events.

Every portfolio event carries the portfolio's version after the change; a stale or repeated one
changes nothing (a conditional upsert), so late and out-of-order deliveries are harmless.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from events import Delivery
from events.contracts import (
    PortfolioCreatedV1,
    PortfolioDeletedV1,
    PortfolioItemAddedV1,
    PortfolioItemRemovedV1,
    PortfolioRestoredV1,
    PortfolioUpdatedV1,
)
from media.handlers.common import UowFactory
from media.models import ItemAccess, PortfolioAccess
from media.unit_of_work import MediaUnitOfWork


async def _deleted(tx: MediaUnitOfWork, data: PortfolioDeletedV1) -> None:
    changed = await tx.db.exec(
        update(PortfolioAccess)
        .where(
            col(PortfolioAccess.portfolio_id) == data.portfolio_id,
            col(PortfolioAccess.version) < data.version,
        )
        .values(deleted=True, version=data.version)
    )
    if not changed.rowcount:  # unknown yet (its created event is late): remember it deleted
        await tx.db.exec(
            insert(PortfolioAccess)
            .values(
                portfolio_id=data.portfolio_id,
                owner_id=data.owner_id,
                visibility="private",
                collaborators={},
                deleted=True,
                version=data.version,
            )
            .on_conflict_do_nothing()
        )


async def project_portfolio(delivery: Delivery[Any], *, uow: UowFactory) -> None:
    data = delivery.data
    async with uow() as tx:
        if isinstance(data, PortfolioCreatedV1 | PortfolioUpdatedV1 | PortfolioRestoredV1):
            await tx.upsert_newer(
                PortfolioAccess,
                {
                    "portfolio_id": data.portfolio_id,
                    "owner_id": data.owner_id,
                    "visibility": data.visibility,
                    "collaborators": {str(c.user_id): c.role for c in data.collaborators},
                    "deleted": False,
                    "version": data.version,
                },
            )
        elif isinstance(data, PortfolioDeletedV1):
            await _deleted(tx, data)
        elif isinstance(data, PortfolioItemAddedV1 | PortfolioItemRemovedV1):
            await tx.upsert_newer(
                ItemAccess,
                {
                    "item_id": data.item_id,
                    "portfolio_id": data.portfolio_id,
                    "removed": isinstance(data, PortfolioItemRemovedV1),
                    "version": data.version,
                },
            )
        await tx.commit()
