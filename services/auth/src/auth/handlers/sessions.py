"""Sessions after login: refresh-token rotation with reuse detection, logout, the caller."""

from __future__ import annotations

import uuid
from datetime import datetime

from auth import errors
from auth.config import Settings
from auth.handlers.common import UowFactory
from auth.keys import KeyRing
from auth.models import (
    ACTIVE,
    DISABLED,
    RefreshToken,
    Session,
    TokenPair,
    User,
)
from auth.opaque_tokens import new_token, token_hash
from events import get_logger
from servicekit.clock import Clock

log = get_logger("auth.sessions")


def new_refresh_token(
    session: Session, token: str, now: datetime, settings: Settings
) -> RefreshToken:
    # A refresh token never outlives its session's absolute lifetime.
    return RefreshToken(
        session_id=session.id,
        token_hash=token_hash(token),
        created_at=now,
        expires_at=min(now + settings.refresh_token_ttl, session.expires_at),
    )


def token_pair(
    keys: KeyRing,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    refresh: str,
    refresh_expires_at: datetime,
    now: datetime,
    settings: Settings,
) -> TokenPair:
    return TokenPair(
        access_token=keys.issue(
            user_id=user_id, session_id=session_id, now=now, ttl=settings.access_token_ttl
        ),
        expires_in=int(settings.access_token_ttl.total_seconds()),
        refresh_token=refresh,
        refresh_expires_in=int((refresh_expires_at - now).total_seconds()),
    )


async def refresh_session(
    refresh_token: str, *, uow: UowFactory, keys: KeyRing, clock: Clock, settings: Settings
) -> TokenPair:
    """Spend a refresh token for a new pair. A token that was already spent means two parties
    hold it (one of them a thief): the whole session family ends, and both must log in again."""
    now = clock.now()
    successor = new_token()
    async with uow() as tx:
        current = await tx.sessions.refresh_token(token_hash(refresh_token))
        if current is None:
            raise errors.RefreshTokenInvalid()
        session = await tx.sessions.get(current.session_id, lock=True)
        assert session is not None  # the foreign key guarantees it
        if session.revoked_at is not None:
            raise errors.SessionRevoked()
        if current.rotated_at is not None:
            session.revoked_at = now
            session.revoked_reason = "refresh_reuse"
            await tx.commit()
            log.warning(
                "security: refresh token reused; session family revoked",
                session_id=str(session.id),
                user_id=str(session.user_id),
                rotated_at=current.rotated_at.isoformat(),
            )
            raise errors.RefreshTokenReused()
        if current.expires_at <= now or session.expires_at <= now:
            raise errors.RefreshTokenInvalid()
        user = await tx.users.get(session.user_id)
        if user is None or user.status != ACTIVE:
            raise errors.SessionRevoked()
        current.rotated_at = now
        successor_row = new_refresh_token(session, successor, now, settings)
        tx.db.add(successor_row)
        await tx.commit()
    return token_pair(
        keys, session.user_id, session.id, successor, successor_row.expires_at, now, settings
    )


async def logout(
    session_id: uuid.UUID | None,
    refresh_token: str | None,
    *,
    uow: UowFactory,
    clock: Clock,
) -> None:
    async with uow() as tx:
        if session_id is None and refresh_token is not None:
            current = await tx.sessions.refresh_token(token_hash(refresh_token))
            session_id = current.session_id if current else None
        if session_id is None:
            raise errors.RefreshTokenInvalid()
        session = await tx.sessions.get(session_id, lock=True)
        if session is None:
            raise errors.RefreshTokenInvalid()
        if session.revoked_at is None:
            session.revoked_at = clock.now()
            session.revoked_reason = "logout"
            await tx.commit()


async def logout_everywhere(
    user_id: uuid.UUID, session_id: uuid.UUID, *, uow: UowFactory, clock: Clock
) -> int:
    """End every session of the caller's account (a lost device, a shared computer)."""
    now = clock.now()
    async with uow() as tx:
        session = await tx.sessions.get(session_id)
        if session is None or session.revoked_at is not None or session.user_id != user_id:
            raise errors.SessionRevoked()
        ended = await tx.sessions.revoke_all(user_id, now, "logout_everywhere")
        await tx.commit()
    log.info("logged out everywhere", user_id=str(user_id), sessions_ended=ended)
    return ended


async def current_user(
    user_id: uuid.UUID, session_id: uuid.UUID, *, uow: UowFactory, clock: Clock
) -> User:
    """The caller of an access token, if its session is still alive (logout ends it at once)."""
    async with uow() as tx:
        session = await tx.sessions.get(session_id)
        if session is None or session.revoked_at is not None or session.expires_at <= clock.now():
            raise errors.SessionRevoked()
        user = await tx.users.get(user_id)
        if user is None or user.status == DISABLED:
            raise errors.SessionRevoked()
        return user
