"""Auth's unit of work: the transaction, its repositories, and the outbox and inbox riding in it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Self

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from auth.models import LoginAttempt, RefreshToken, Session, User, VerificationToken
from events import UnitOfWork


class Users:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: uuid.UUID, *, lock: bool = False) -> User | None:
        query = select(User).where(User.id == user_id)
        if lock:
            query = query.with_for_update()
        return (await self.session.exec(query)).first()

    async def by_email_key(self, email_key: str, *, lock: bool = False) -> User | None:
        query = select(User).where(User.email_key == email_key)
        if lock:
            query = query.with_for_update()
        return (await self.session.exec(query)).first()


class VerificationTokens:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_hash(self, token_hash: str) -> VerificationToken | None:
        query = (
            select(VerificationToken)
            .where(VerificationToken.token_hash == token_hash)
            .with_for_update()
        )
        return (await self.session.exec(query)).first()

    async def issued_since(self, user_id: uuid.UUID, since: datetime) -> list[VerificationToken]:
        query = (
            select(VerificationToken)
            .where(VerificationToken.user_id == user_id, VerificationToken.created_at >= since)
            .order_by(col(VerificationToken.created_at).desc())
        )
        return list((await self.session.exec(query)).all())

    async def open_for(self, user_id: uuid.UUID) -> list[VerificationToken]:
        query = select(VerificationToken).where(
            VerificationToken.user_id == user_id,
            col(VerificationToken.used_at).is_(None),
            col(VerificationToken.superseded_at).is_(None),
        )
        return list((await self.session.exec(query)).all())


class Sessions:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, session_id: uuid.UUID, *, lock: bool = False) -> Session | None:
        query = select(Session).where(Session.id == session_id)
        if lock:
            query = query.with_for_update()
        return (await self.session.exec(query)).first()

    async def refresh_token(self, token_hash: str) -> RefreshToken | None:
        query = select(RefreshToken).where(RefreshToken.token_hash == token_hash).with_for_update()
        return (await self.session.exec(query)).first()


class LoginAttempts:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def failures_since(
        self, since: datetime, *, email_key: str | None = None, address: str | None = None
    ) -> tuple[int, datetime | None]:
        """How many failed logins since `since`, and when the oldest of them happened."""
        query = select(func.count(), func.min(LoginAttempt.at)).where(
            LoginAttempt.at >= since, LoginAttempt.outcome == "bad_credentials"
        )
        if email_key is not None:
            query = query.where(LoginAttempt.email_key == email_key)
        if address is not None:
            query = query.where(LoginAttempt.client_address == address)
        count, oldest = (await self.session.exec(query)).one()
        return int(count), oldest


class AuthUnitOfWork(UnitOfWork):
    users: Users
    tokens: VerificationTokens
    sessions: Sessions
    attempts: LoginAttempts

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.users = Users(self.session)
        self.tokens = VerificationTokens(self.session)
        self.sessions = Sessions(self.session)
        self.attempts = LoginAttempts(self.session)
        return self
