"""Auth's unit of work: the transaction, its repositories, and the outbox and inbox riding in it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Self

from sqlalchemy import ColumnElement, Delete, delete, or_, text, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from auth.models import (
    PENDING,
    LoginAttempt,
    PasswordResetToken,
    RefreshToken,
    RequestEvent,
    Session,
    User,
    VerificationToken,
)
from events import UnitOfWork


class Users:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def get(self, user_id: uuid.UUID, *, lock: bool = False) -> User | None:
        query = select(User).where(User.id == user_id)
        if lock:
            query = query.with_for_update()
        return (await self.db.exec(query)).first()

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


class RequestEvents:
    """The memory of the limits on requests that send mail (registration, password reset)."""

    _TARGET_LOCK, _NETWORK_LOCK = 3, 4

    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def lock(self, action: str, target_key: str, network: str) -> None:
        """Serialise decisions per target then per network until the transaction ends."""
        connection = await self.db.connection()
        for namespace, key in ((self._TARGET_LOCK, target_key), (self._NETWORK_LOCK, network)):
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:namespace, hashtext(:key))"),
                {"namespace": namespace, "key": f"{action}:{key}"},
            )

    async def recent(
        self,
        action: str,
        since: datetime,
        count: int,
        *,
        network: str | None = None,
        target_key: str | None = None,
    ) -> list[datetime]:
        """When the newest `count` admitted requests after `since` came, newest first."""
        query = (
            select(RequestEvent.at)
            .where(RequestEvent.action == action, col(RequestEvent.at) > since)
            .order_by(col(RequestEvent.at).desc())
            .limit(count)
        )
        if network is not None:
            query = query.where(RequestEvent.client_network == network)
        if target_key is not None:
            query = query.where(RequestEvent.target_key == target_key)
        return list((await self.db.exec(query)).all())

    def add(self, event: RequestEvent) -> None:
        self.db.add(event)


class LoginAttempts:
    # Namespaces of the two-key advisory locks, so an account and an address never collide.
    _ACCOUNT_LOCK, _ADDRESS_LOCK = 1, 2

    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def lock(self, email_key: str, network: str) -> None:
        """Serialise throttle decisions per account and per client network until the
        transaction ends.

        Every login takes the account lock before the network lock, so two logins never wait on
        each other in a cycle. A hash collision only serialises two unrelated keys, briefly.
        """
        connection = await self.db.connection()  # the unit of work's transaction
        for namespace, key in ((self._ACCOUNT_LOCK, email_key), (self._ADDRESS_LOCK, network)):
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:namespace, hashtext(:key))"),
                {"namespace": namespace, "key": key},
            )

    async def recent(
        self,
        since: datetime,
        outcomes: Sequence[str],
        count: int,
        *,
        email_key: str | None = None,
        network: str | None = None,
    ) -> list[tuple[str, datetime]]:
        """The newest `count` attempts after `since` with one of `outcomes`, newest first."""
        query = (
            select(LoginAttempt.outcome, LoginAttempt.at)
            .where(LoginAttempt.at > since, col(LoginAttempt.outcome).in_(outcomes))
            .order_by(col(LoginAttempt.at).desc(), col(LoginAttempt.id).desc())
            .limit(count)
        )
        if email_key is not None:
            query = query.where(LoginAttempt.email_key == email_key)
        if network is not None:
            query = query.where(LoginAttempt.client_network == network)
        return [(outcome, at) for outcome, at in (await self.db.exec(query)).all()]

    async def add(self, attempt: LoginAttempt) -> LoginAttempt:
        self.db.add(attempt)
        await self.db.flush()  # the id, to settle the attempt later
        return attempt

    async def settle(
        self, attempt_id: int, outcome: str, *, user_id: uuid.UUID | None, first_login: bool = False
    ) -> None:
        """Record how an attempt that was `in_progress` ended."""
        await self.db.exec(
            update(LoginAttempt)
            .where(col(LoginAttempt.id) == attempt_id)
            .values(outcome=outcome, user_id=user_id, first_login=first_login)
        )


class Retention:
    """Deletes what no one needs any more; each method returns how many rows went."""

    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def _delete(self, statement: Delete) -> int:
        result = await self.db.exec(statement)
        return int(result.rowcount or 0)

    async def login_attempts_before(self, cutoff: datetime) -> int:
        return await self._delete(delete(LoginAttempt).where(col(LoginAttempt.at) < cutoff))

    async def verification_tokens_expired_before(self, cutoff: datetime) -> int:
        return await self._delete(
            delete(VerificationToken).where(col(VerificationToken.expires_at) < cutoff)
        )

    async def refresh_tokens_expired_before(self, cutoff: datetime) -> int:
        """Expired tokens are refused by their expiry alone; rotated ones that are still valid
        stay, because presenting one of those is how a stolen copy is detected."""
        return await self._delete(delete(RefreshToken).where(col(RefreshToken.expires_at) < cutoff))

    async def refresh_tokens_of_sessions_ended_before(self, cutoff: datetime) -> int:
        """Runs before `sessions_ended_before`: the tokens reference their session."""
        return await self._delete(
            delete(RefreshToken).where(
                col(RefreshToken.session_id).in_(select(Session.id).where(_ended(cutoff)))
            )
        )

    async def sessions_ended_before(self, cutoff: datetime) -> int:
        return await self._delete(delete(Session).where(_ended(cutoff)))

    async def request_events_before(self, cutoff: datetime) -> int:
        return await self._delete(delete(RequestEvent).where(col(RequestEvent.at) < cutoff))

    async def reset_tokens_expired_before(self, cutoff: datetime) -> int:
        return await self._delete(
            delete(PasswordResetToken).where(col(PasswordResetToken.expires_at) < cutoff)
        )

    async def unverified_accounts_created_before(self, cutoff: datetime) -> int:
        """Delete accounts never verified, so their address can be registered again. Their
        tokens go with them; their audit rows stay, without the link to the account."""
        doomed = (
            select(User.id)
            .where(User.status == PENDING, col(User.created_at) < cutoff)
            .limit(1000)
            .with_for_update(skip_locked=True)
        )
        ids = list((await self.db.exec(doomed)).all())
        if not ids:
            return 0
        await self.db.exec(
            update(LoginAttempt).where(col(LoginAttempt.user_id).in_(ids)).values(user_id=None)
        )
        for table in (VerificationToken, PasswordResetToken):
            await self._delete(delete(table).where(col(table.user_id).in_(ids)))
        return await self._delete(delete(User).where(col(User.id).in_(ids)))


def _ended(cutoff: datetime) -> ColumnElement[bool]:
    return or_(col(Session.expires_at) < cutoff, col(Session.revoked_at) < cutoff)


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
