"""Portfolio's unit of work: the transaction, its repositories, the outbox and inbox in it.

Writes that must not be lost to a concurrent one check the version in the UPDATE itself;
writes to a portfolio's items first take the portfolio's row lock (by bumping its version), so
concurrent writers of one portfolio line up instead of interleaving.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Self, TypeVar

from sqlalchemy import ColumnElement, and_, delete, func, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from events import UnitOfWork
from portfolio.models import Collaborator, Item, Owner, Portfolio

T = TypeVar("T")


def _first(result: Any, entity: type[T]) -> T | None:
    """The one entity an UPDATE ... RETURNING gave back, or None."""
    row = result.scalars().first()
    assert row is None or isinstance(row, entity)
    return row


class Owners:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def get(self, user_id: uuid.UUID) -> Owner | None:
        return await self.db.get(Owner, user_id)

    async def by_handle(self, handle: str) -> Owner | None:
        return (await self.db.exec(select(Owner).where(Owner.handle == handle))).first()


class Portfolios:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def get(self, portfolio_id: uuid.UUID, *, deleted: bool = False) -> Portfolio | None:
        """A live portfolio (or, with `deleted`, one whatever its state)."""
        query = select(Portfolio).where(Portfolio.id == portfolio_id)
        if not deleted:
            query = query.where(col(Portfolio.deleted_at).is_(None))
        return (await self.db.exec(query)).first()

    async def lock(self, portfolio_id: uuid.UUID) -> Portfolio | None:
        """The live portfolio, its row locked until the transaction ends."""
        query = (
            select(Portfolio)
            .where(Portfolio.id == portfolio_id, col(Portfolio.deleted_at).is_(None))
            .with_for_update()
        )
        return (await self.db.exec(query)).first()

    async def live_by_slug(self, owner_id: uuid.UUID, slug: str) -> Portfolio | None:
        query = select(Portfolio).where(
            Portfolio.owner_id == owner_id,
            Portfolio.slug == slug,
            col(Portfolio.deleted_at).is_(None),
        )
        return (await self.db.exec(query)).first()

    async def of_owner(
        self, owner_id: uuid.UUID, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Portfolio]:
        """Newest first; `after` is the (created_at, id) of the last one already seen."""
        query = select(Portfolio).where(
            Portfolio.owner_id == owner_id, col(Portfolio.deleted_at).is_(None)
        )
        if after is not None:
            created, last = after
            query = query.where(
                tuple_(col(Portfolio.created_at), col(Portfolio.id)) < tuple_(created, last)
            )
        query = query.order_by(col(Portfolio.created_at).desc(), col(Portfolio.id).desc())
        return list((await self.db.exec(query.limit(limit))).all())

    async def change(
        self, portfolio_id: uuid.UUID, expected: int | None, now: datetime, **values: Any
    ) -> Portfolio | None:
        """Apply `values` and bump the version, if the portfolio is live and (when `expected`
        is given) still at that version: the check and the write are one statement."""
        conditions: list[ColumnElement[bool]] = [
            col(Portfolio.id) == portfolio_id,
            col(Portfolio.deleted_at).is_(None),
        ]
        if expected is not None:
            conditions.append(col(Portfolio.version) == expected)
        statement = (
            update(Portfolio)
            .where(and_(*conditions))
            .values(version=Portfolio.version + 1, updated_at=now, **values)
            .returning(Portfolio)
            .execution_options(populate_existing=True)
        )
        return _first(await self.db.exec(statement), Portfolio)

    async def restore(self, portfolio_id: uuid.UUID, now: datetime) -> Portfolio | None:
        statement = (
            update(Portfolio)
            .where(col(Portfolio.id) == portfolio_id, col(Portfolio.deleted_at).is_not(None))
            .values(version=Portfolio.version + 1, updated_at=now, deleted_at=None)
            .returning(Portfolio)
            .execution_options(populate_existing=True)
        )
        return _first(await self.db.exec(statement), Portfolio)

    async def deleted_before(self, cutoff: datetime, limit: int) -> list[Portfolio]:
        """Expired deletions, locked; a concurrent purge skips them (replicas side by side)."""
        query = (
            select(Portfolio)
            .where(col(Portfolio.deleted_at) < cutoff)
            .order_by(col(Portfolio.deleted_at))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list((await self.db.exec(query)).all())

    async def purge(self, portfolio_id: uuid.UUID) -> None:
        """Hard delete: the database cascades to items and collaborators."""
        await self.db.exec(delete(Portfolio).where(col(Portfolio.id) == portfolio_id))


class Items:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def live(self, portfolio_id: uuid.UUID, *, lock: bool = False) -> list[Item]:
        query = select(Item).where(
            Item.portfolio_id == portfolio_id, col(Item.deleted_at).is_(None)
        )
        if lock:
            # A fixed order (by id) for every writer that locks several items: no deadlocks.
            query = query.order_by(col(Item.id)).with_for_update()
        else:
            query = query.order_by(col(Item.position), col(Item.id))
        return list((await self.db.exec(query)).all())

    async def all_of(self, portfolio_id: uuid.UUID) -> list[Item]:
        """Live and removed: what a purge removes."""
        query = select(Item).where(Item.portfolio_id == portfolio_id)
        return list((await self.db.exec(query)).all())

    async def next_position(self, portfolio_id: uuid.UUID) -> int:
        query = select(func.coalesce(func.max(Item.position) + 1, 0)).where(
            Item.portfolio_id == portfolio_id, col(Item.deleted_at).is_(None)
        )
        return int((await self.db.exec(query)).one())

    async def count_live(self, portfolio_id: uuid.UUID) -> int:
        query = select(func.count()).where(
            Item.portfolio_id == portfolio_id, col(Item.deleted_at).is_(None)
        )
        return int((await self.db.exec(query)).one())

    async def change(
        self,
        portfolio_id: uuid.UUID,
        item_id: uuid.UUID,
        expected: int | None,
        now: datetime,
        **values: Any,
    ) -> Item | None:
        conditions: list[ColumnElement[bool]] = [
            col(Item.id) == item_id,
            col(Item.portfolio_id) == portfolio_id,
            col(Item.deleted_at).is_(None),
        ]
        if expected is not None:
            conditions.append(col(Item.version) == expected)
        statement = (
            update(Item)
            .where(and_(*conditions))
            .values(version=Item.version + 1, updated_at=now, **values)
            .returning(Item)
            .execution_options(populate_existing=True)
        )
        return _first(await self.db.exec(statement), Item)

    async def get(self, portfolio_id: uuid.UUID, item_id: uuid.UUID) -> Item | None:
        query = select(Item).where(
            Item.id == item_id, Item.portfolio_id == portfolio_id, col(Item.deleted_at).is_(None)
        )
        return (await self.db.exec(query)).first()


class Collaborators:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def of(self, portfolio_id: uuid.UUID) -> dict[uuid.UUID, str]:
        query = select(col(Collaborator.user_id), col(Collaborator.role)).where(
            col(Collaborator.portfolio_id) == portfolio_id
        )
        return {user: role for user, role in (await self.db.exec(query)).all()}

    async def set(
        self, portfolio_id: uuid.UUID, user_id: uuid.UUID, role: str, now: datetime
    ) -> None:
        statement = insert(Collaborator).values(
            portfolio_id=portfolio_id, user_id=user_id, role=role, added_at=now
        )
        await self.db.exec(
            statement.on_conflict_do_update(
                index_elements=["portfolio_id", "user_id"], set_={"role": role}
            )
        )

    async def remove(self, portfolio_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        result = await self.db.exec(
            delete(Collaborator).where(
                col(Collaborator.portfolio_id) == portfolio_id,
                col(Collaborator.user_id) == user_id,
            )
        )
        return bool(result.rowcount)


class PortfolioUnitOfWork(UnitOfWork):
    owners: Owners
    portfolios: Portfolios
    items: Items
    collaborators: Collaborators

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.owners = Owners(self.db)
        self.portfolios = Portfolios(self.db)
        self.items = Items(self.db)
        self.collaborators = Collaborators(self.db)
        return self
