"""Notify's unit of work: the transaction, its repositories, and the outbox and inbox in it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Self

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from events import UnitOfWork
from notify.models import Email, ProviderEvent, Suppression, SuppressionAudit


class Emails:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def for_cause(self, cause_event_id: uuid.UUID, template: str) -> Email | None:
        query = (
            select(Email)
            .where(Email.cause_event_id == cause_event_id, Email.template == template)
            .with_for_update()
        )
        return (await self.db.exec(query)).first()

    async def by_provider_message_id(self, provider_message_id: str) -> Email | None:
        query = (
            select(Email).where(Email.provider_message_id == provider_message_id).with_for_update()
        )
        return (await self.db.exec(query)).first()

    async def by_message_id(self, message_id: str) -> Email | None:
        query = select(Email).where(Email.message_id == message_id).with_for_update()
        return (await self.db.exec(query)).first()

    async def get(self, email_id: uuid.UUID) -> Email | None:
        query = select(Email).where(Email.id == email_id).with_for_update()
        return (await self.db.exec(query)).first()

    async def of_user(self, user_id: uuid.UUID, limit: int = 50) -> list[Email]:
        query = (
            select(Email)
            .where(Email.user_id == user_id)
            .order_by(col(Email.created_at).desc())
            .limit(limit)
        )
        return list((await self.db.exec(query)).all())


class Suppressions:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def get(self, address_key: str, *, lock: bool = False) -> Suppression | None:
        query = select(Suppression).where(Suppression.address_key == address_key)
        if lock:
            query = query.with_for_update()
        return (await self.db.exec(query)).first()

    async def lift(self, suppression: Suppression, audit: SuppressionAudit) -> None:
        """Remove a suppression and keep who lifted it, and why, in the audit."""
        await self.db.delete(suppression)
        self.db.add(audit)

    async def add(self, address_key: str, reason: str, detail: str | None, at: datetime) -> bool:
        """Suppress an address; False if it already was (the first reason is kept)."""
        result = await self.db.exec(
            insert(Suppression)
            .values(address_key=address_key, reason=reason, detail=detail, created_at=at)
            .on_conflict_do_nothing()
            .returning(col(Suppression.address_key))
        )
        return result.first() is not None


class ProviderEvents:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def first_time(self, source: str, event_id: str, at: datetime) -> bool:
        """Record a provider's event id; False when it was handled before (at-least-once)."""
        result = await self.db.exec(
            insert(ProviderEvent)
            .values(source=source, event_id=event_id, received_at=at)
            .on_conflict_do_nothing()
            .returning(col(ProviderEvent.event_id))
        )
        return result.first() is not None


class NotifyUnitOfWork(UnitOfWork):
    emails: Emails
    suppressions: Suppressions
    provider_events: ProviderEvents

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.emails = Emails(self.db)
        self.suppressions = Suppressions(self.db)
        self.provider_events = ProviderEvents(self.db)
        return self
