"""Deleting what no one needs any more (the worker's retention pass)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Delete, delete, or_, update
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
