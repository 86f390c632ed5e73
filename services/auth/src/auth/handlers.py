"""Auth's use cases and event handlers. Each state change and its events commit together."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from auth import errors
from auth.config import Settings
from auth.emails import normalise
from auth.keys import KeyRing
from auth.models import (
    ACTIVE,
    DISABLED,
    EMAIL_BOUNCED,
    EMAIL_FAILED,
    EMAIL_SENT,
    PENDING,
    LoginAttempt,
    RefreshToken,
    Session,
    TokenPair,
    User,
    UserCreate,
    VerificationToken,
)
from auth.opaque_tokens import new_token, token_hash
from auth.passwords import PasswordHasher, PasswordPolicy
from auth.unit_of_work import AuthUnitOfWork
from events import Delivery, Event, new_event
from events.contracts import (
    EmailBouncedV1,
    EmailFailedV1,
    EmailSentV1,
    UserLoggedInV1,
    UserRegisteredV1,
    UserVerificationRequestedV1,
    UserVerifiedV1,
)
from events.logs import get_logger
from servicekit.clock import Clock

log = get_logger("auth.handlers")
UowFactory = Callable[[], AuthUnitOfWork]


@dataclass(frozen=True)
class Client:
    """Who is asking: the throttle's second key, and what the audit keeps."""

    address: str
    user_agent: str | None = None


# --- registration and verification ------------------------------------------------------------


async def register_user(
    request: UserCreate,
    *,
    uow: UowFactory,
    hasher: PasswordHasher,
    policy: PasswordPolicy,
    clock: Clock,
    settings: Settings,
) -> User:
    email, email_key = normalise(request.email)
    display_name = request.display_name.strip()
    if not display_name:
        raise errors.InvalidDisplayName("Tell us the name to show on your portfolio.")
    policy.check(request.password, email=email, display_name=display_name)
    async with uow() as tx:
        # A cheap check first, so a duplicate does not cost an argon2 hash; the unique index
        # below is what makes concurrent duplicates safe.
        if await tx.users.by_email_key(email_key) is not None:
            raise errors.EmailTaken(email)
    password_hash = await hasher.hash(request.password)
    now = clock.now()
    async with uow() as tx:
        user = User(
            email=email,
            email_key=email_key,
            display_name=display_name,
            password_hash=password_hash,
            status=PENDING,
            created_at=now,
        )
        tx.session.add(user)
        try:
            await tx.session.flush()
        except IntegrityError as exc:
            raise errors.EmailTaken(email) from exc
        token = _new_verification_token(tx, user, now, settings.verification_ttl)
        await tx.publish(
            new_event(
                UserRegisteredV1(
                    user_id=user.id, email=email, display_name=display_name, registered_at=now
                ),
                subject=str(user.id),
            )
        )
        await tx.publish(_verification_requested(user, token, now + settings.verification_ttl))
        await tx.commit()
    log.info("user registered", user_id=str(user.id))
    return user


def _new_verification_token(tx: AuthUnitOfWork, user: User, now: datetime, ttl: timedelta) -> str:
    token = new_token()
    tx.session.add(
        VerificationToken(
            user_id=user.id, token_hash=token_hash(token), created_at=now, expires_at=now + ttl
        )
    )
    return token


def _verification_requested(
    user: User, token: str, expires_at: datetime
) -> Event[UserVerificationRequestedV1]:
    return new_event(
        UserVerificationRequestedV1(
            user_id=user.id,
            email=user.email,
            display_name=user.display_name,
            token=token,
            expires_at=expires_at,
        ),
        subject=str(user.id),
    )


async def verify_email(token: str, *, uow: UowFactory, clock: Clock) -> User:
    now = clock.now()
    async with uow() as tx:
        record = await tx.tokens.by_hash(token_hash(token))
        if record is None:
            raise errors.VerificationTokenUnknown()
        if record.used_at is not None:
            raise errors.VerificationTokenUsed()
        if record.superseded_at is not None:
            raise errors.VerificationTokenExpired("A newer link was sent; use the latest email.")
        if record.expires_at <= now:
            raise errors.VerificationTokenExpired("This link has expired; ask for a new one.")
        user = await tx.users.get(record.user_id, lock=True)
        if user is None:  # pragma: no cover - the foreign key forbids it
            raise errors.VerificationTokenUnknown()
        record.used_at = now
        if user.status == PENDING:
            user.status = ACTIVE
            user.verified_at = now
            await tx.publish(
                new_event(
                    UserVerifiedV1(
                        user_id=user.id,
                        email=user.email,
                        display_name=user.display_name,
                        verified_at=now,
                    ),
                    subject=str(user.id),
                )
            )
        await tx.commit()
    log.info("email verified", user_id=str(user.id))
    return user


async def resend_verification(
    email: str, *, uow: UowFactory, clock: Clock, settings: Settings
) -> None:
    """Send a new link to a pending account. The answer never says whether the account exists,
    so a limit that is reached is silent too (logged, not returned)."""
    _, email_key = normalise(email)
    now = clock.now()
    async with uow() as tx:
        user = await tx.users.by_email_key(email_key, lock=True)
        if user is None or user.status != PENDING:
            return
        recent = await tx.tokens.issued_since(user.id, now - timedelta(days=1))
        if recent and (
            recent[0].created_at > now - settings.resend_min_interval
            or len(recent) >= settings.resend_max_per_day
        ):
            log.info("verification resend limited", user_id=str(user.id))
            return
        # Only the newest link works: an older one is superseded, not just left to expire.
        for open_token in await tx.tokens.open_for(user.id):
            open_token.superseded_at = now
        token = _new_verification_token(tx, user, now, settings.verification_ttl)
        await tx.publish(_verification_requested(user, token, now + settings.verification_ttl))
        await tx.commit()
    log.info("verification resent", user_id=str(user.id))


# --- login, refresh, logout -----------------------------------------------------------------


async def _check_throttle(
    tx: AuthUnitOfWork, email_key: str, client: Client, now: datetime, settings: Settings
) -> None:
    since = now - settings.login_window
    for limit, count_and_oldest in (
        (
            settings.login_max_failures_per_account,
            await tx.attempts.failures_since(since, email_key=email_key),
        ),
        (
            settings.login_max_failures_per_address,
            await tx.attempts.failures_since(since, address=client.address),
        ),
    ):
        count, oldest = count_and_oldest
        if count >= limit and oldest is not None:
            raise errors.Throttled(oldest + settings.login_window - now)


async def _record_attempt(
    uow: UowFactory,
    *,
    email_key: str,
    client: Client,
    outcome: str,
    now: datetime,
    user_id: uuid.UUID | None = None,
) -> None:
    async with uow() as tx:
        tx.session.add(
            LoginAttempt(
                user_id=user_id,
                email_key=email_key,
                client_address=client.address,
                user_agent=(client.user_agent or "")[:300] or None,
                outcome=outcome,
                at=now,
            )
        )
        await tx.commit()


async def login(
    email: str,
    password: str,
    client: Client,
    *,
    uow: UowFactory,
    hasher: PasswordHasher,
    keys: KeyRing,
    clock: Clock,
    settings: Settings,
) -> TokenPair:
    try:
        _, email_key = normalise(email)
    except errors.InvalidEmail:
        email_key = email.strip().lower()[:320]
    now = clock.now()
    async with uow() as tx:
        try:
            await _check_throttle(tx, email_key, client, now, settings)
        except errors.Throttled:
            await _record_attempt(
                uow, email_key=email_key, client=client, outcome="throttled", now=now
            )
            raise
        user = await tx.users.by_email_key(email_key)
    # The slow part runs outside any transaction; an unknown email costs the same time.
    if user is None:
        await hasher.verify_nobody(password)
        ok = False
    else:
        ok = await hasher.verify(user.password_hash, password)
    if user is None or not ok:
        await _record_attempt(
            uow,
            email_key=email_key,
            client=client,
            outcome="bad_credentials",
            now=now,
            user_id=user.id if user else None,
        )
        raise errors.InvalidCredentials()
    # Only someone who knows the password learns the account's state.
    if user.status in (PENDING, DISABLED):
        await _record_attempt(
            uow, email_key=email_key, client=client, outcome=user.status, now=now, user_id=user.id
        )
        raise errors.AccountPending() if user.status == PENDING else errors.AccountDisabled()
    rehash = await hasher.hash(password) if hasher.needs_rehash(user.password_hash) else None
    refresh = new_token()
    async with uow() as tx:
        locked = await tx.users.get(user.id, lock=True)
        assert locked is not None
        first_login = locked.first_login_at is None
        if first_login:
            locked.first_login_at = now
        if rehash is not None:
            locked.password_hash = rehash
        session = Session(
            user_id=locked.id, created_at=now, expires_at=now + settings.session_max_age
        )
        tx.session.add(session)
        await tx.session.flush()  # the session row first: the refresh token references it
        tx.session.add(
            RefreshToken(
                session_id=session.id,
                token_hash=token_hash(refresh),
                created_at=now,
                expires_at=min(now + settings.refresh_token_ttl, session.expires_at),
            )
        )
        tx.session.add(
            LoginAttempt(
                user_id=locked.id,
                email_key=email_key,
                client_address=client.address,
                user_agent=(client.user_agent or "")[:300] or None,
                outcome="success",
                first_login=first_login,
                at=now,
            )
        )
        await tx.publish(
            new_event(
                UserLoggedInV1(
                    user_id=locked.id,
                    email=locked.email,
                    display_name=locked.display_name,
                    first_login=first_login,
                    logged_in_at=now,
                ),
                subject=str(locked.id),
            )
        )
        await tx.commit()
    log.info("login", user_id=str(user.id), first_login=first_login)
    return _pair(keys, user.id, session.id, refresh, now, settings)


def _pair(
    keys: KeyRing,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    refresh: str,
    now: datetime,
    settings: Settings,
) -> TokenPair:
    return TokenPair(
        access_token=keys.issue(
            user_id=user_id, session_id=session_id, now=now, ttl=settings.access_token_ttl
        ),
        expires_in=int(settings.access_token_ttl.total_seconds()),
        refresh_token=refresh,
        refresh_expires_in=int(settings.refresh_token_ttl.total_seconds()),
    )


async def refresh_session(
    refresh_token: str, *, uow: UowFactory, keys: KeyRing, clock: Clock, settings: Settings
) -> TokenPair:
    now = clock.now()
    successor = new_token()
    async with uow() as tx:
        current = await tx.sessions.refresh_token(token_hash(refresh_token))
        if current is None:
            raise errors.RefreshTokenInvalid()
        session = await tx.sessions.get(current.session_id, lock=True)
        assert session is not None
        if session.revoked_at is not None:
            raise errors.SessionRevoked()
        if current.rotated_at is not None:
            # Reuse of a rotated token: a copy is in someone else's hands. End the family.
            session.revoked_at = now
            session.revoked_reason = "refresh_reuse"
            await tx.commit()
            log.warning(
                "refresh token reused; session revoked",
                session_id=str(session.id),
                user_id=str(session.user_id),
            )
            raise errors.RefreshTokenReused()
        if current.expires_at <= now or session.expires_at <= now:
            raise errors.RefreshTokenInvalid()
        current.rotated_at = now
        tx.session.add(
            RefreshToken(
                session_id=session.id,
                token_hash=token_hash(successor),
                created_at=now,
                expires_at=min(now + settings.refresh_token_ttl, session.expires_at),
            )
        )
        await tx.commit()
    return _pair(keys, session.user_id, session.id, successor, now, settings)


async def logout(
    *,
    session_id: uuid.UUID | None,
    refresh_token: str | None,
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


# --- event handlers: auth.email_status --------------------------------------------------------


async def _set_email_status(
    tx: AuthUnitOfWork,
    *,
    user_id: uuid.UUID | None,
    email: str,
    status: str,
    at: datetime,
    detail: str | None,
) -> None:
    user = await tx.users.get(user_id, lock=True) if user_id else None
    if user is None:
        try:
            _, key = normalise(email)
        except errors.InvalidEmail:
            key = email.lower()
        user = await tx.users.by_email_key(key, lock=True)
    if user is None:
        return  # mail to someone who is not (or no longer) an account
    if user.email_status_at is not None and at < user.email_status_at:
        return  # an older outcome arriving late does not overwrite a newer one
    if status == EMAIL_SENT and user.email_status == EMAIL_BOUNCED:
        return  # a later bounce is the truth about an address; a send does not undo it
    user.email_status = status
    user.email_status_at = at
    user.email_status_detail = (detail or "")[:500] or None


def _outcome(data: EmailSentV1 | EmailFailedV1 | EmailBouncedV1) -> dict[str, Any]:
    """What each of notify's outcomes says about the address."""
    if isinstance(data, EmailSentV1):
        return {
            "user_id": data.user_id,
            "email": data.recipient,
            "status": EMAIL_SENT,
            "at": data.sent_at,
            "detail": None,
        }
    if isinstance(data, EmailFailedV1):
        # A suppressed address is one that bounced before.
        status = EMAIL_BOUNCED if data.reason == "suppressed" else EMAIL_FAILED
        return {
            "user_id": data.user_id,
            "email": data.recipient,
            "status": status,
            "at": data.failed_at,
            "detail": f"{data.reason}: {data.detail}",
        }
    return {
        "user_id": None,
        "email": data.recipient,
        "status": EMAIL_BOUNCED,
        "at": data.bounced_at,
        "detail": f"{data.kind}: {data.reason}",
    }


async def record_email_outcome(
    delivery: Delivery[EmailSentV1 | EmailFailedV1 | EmailBouncedV1], *, uow: UowFactory
) -> None:
    async with uow() as tx:
        if not await tx.claim(delivery):
            return
        await _set_email_status(tx, **_outcome(delivery.data))
        await tx.commit()
