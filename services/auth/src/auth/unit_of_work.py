"""Auth's unit of work: the transaction, its repositories, and the outbox and inbox riding in it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Self

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from auth.attempts import LoginAttempts, RequestEvents
from auth.models import PasswordResetToken, RefreshToken, Session, User, VerificationToken
from auth.pruning import Retention
from events import UnitOfWork


class Users:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def get(self, user_id: uuid.UUID, *, lock: bool = False) -> User | None:
        query = select(User).where(User.id == user_id)
        if lock:
            query = query.with_for_update()
        return (await self.db.exec(query)).first()

    async def add_unless_taken(self, user: User) -> bool:
        """Insert a new account unless its address is taken, in one statement: no window
        between the check and the insert, and no error to recover from when it is taken."""
        statement = (
            insert(User)
            .values(user.model_dump())
            .on_conflict_do_nothing(index_elements=["email_key"])
            .returning(col(User.id))
        )
        connection = await self.db.connection()
        return (await connection.execute(statement)).first() is not None

    async def by_email_key(self, email_key: str, *, lock: bool = False) -> User | None:
        query = select(User).where(User.email_key == email_key)
        if lock:
            query = query.with_for_update()
        return (await self.db.exec(query)).first()


class VerificationTokens:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def by_hash(self, token_hash: str) -> VerificationToken | None:
        query = (
            select(VerificationToken)
            .where(VerificationToken.token_hash == token_hash)
            .with_for_update()
        )
        return (await self.db.exec(query)).first()

    async def issued_since(self, user_id: uuid.UUID, since: datetime) -> list[VerificationToken]:
        query = (
            select(VerificationToken)
            .where(VerificationToken.user_id == user_id, VerificationToken.created_at >= since)
            .order_by(col(VerificationToken.created_at).desc())
        )
        return list((await self.db.exec(query)).all())

    async def open_for(self, user_id: uuid.UUID) -> list[VerificationToken]:
        query = select(VerificationToken).where(
            VerificationToken.user_id == user_id,
            col(VerificationToken.used_at).is_(None),
            col(VerificationToken.superseded_at).is_(None),
        )
        return list((await self.db.exec(query)).all())


class Sessions:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def get(self, session_id: uuid.UUID, *, lock: bool = False) -> Session | None:
        query = select(Session).where(Session.id == session_id)
        if lock:
            query = query.with_for_update()
        return (await self.db.exec(query)).first()

    async def refresh_token(self, token_hash: str) -> RefreshToken | None:
        query = select(RefreshToken).where(RefreshToken.token_hash == token_hash).with_for_update()
        return (await self.db.exec(query)).first()

    async def revoke_all(self, user_id: uuid.UUID, at: datetime, reason: str) -> int:
        """End every live session of a user at once (log out everywhere, a password reset)."""
        result = await self.db.exec(
            update(Session)
            .where(
                col(Session.user_id) == user_id,
                col(Session.revoked_at).is_(None),
                col(Session.expires_at) > at,
            )
            .values(revoked_at=at, revoked_reason=reason)
        )
        return int(result.rowcount or 0)


class ResetTokens:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def by_hash(self, token_hash: str) -> PasswordResetToken | None:
        query = (
            select(PasswordResetToken)
            .where(PasswordResetToken.token_hash == token_hash)
            .with_for_update()
        )
        return (await self.db.exec(query)).first()

    async def spend_open_for(self, user_id: uuid.UUID, at: datetime) -> None:
        """Only the newest link works: every other open one is spent."""
        await self.db.exec(
            update(PasswordResetToken)
            .where(
                col(PasswordResetToken.user_id) == user_id,
                col(PasswordResetToken.used_at).is_(None),
            )
            .values(used_at=at)
        )


class AuthUnitOfWork(UnitOfWork):
    users: Users
    tokens: VerificationTokens
    sessions: Sessions
    attempts: LoginAttempts
    requests: RequestEvents
    resets: ResetTokens
    retention: Retention

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.users = Users(self.db)
        self.tokens = VerificationTokens(self.db)
        self.sessions = Sessions(self.db)
        self.attempts = LoginAttempts(self.db)
        self.requests = RequestEvents(self.db)
        self.resets = ResetTokens(self.db)
        self.retention = Retention(self.db)
        return self
