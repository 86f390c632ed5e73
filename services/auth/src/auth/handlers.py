"""Auth's use cases and event handlers. Each state change and its events commit together."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from auth import errors, throttle
from auth.config import Settings
from auth.emails import normalise
from auth.keys import KeyRing
from auth.models import (
    ACTIVE,
    BAD_CREDENTIALS,
    DISABLED,
    EMAIL_BOUNCED,
    EMAIL_FAILED,
    EMAIL_SENT,
    IN_PROGRESS,
    PENDING,
    SUCCESS,
    THROTTLED,
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
    """Create a pending account and ask for its email to be verified, in one transaction."""
    email, email_key = normalise(request.email)
    display_name = _display_name(request.display_name)
    policy.check(request.password, email=email, display_name=display_name)
    async with uow() as tx:
        # A cheap check first, so a duplicate does not cost an argon2 hash; the unique index
        # below is what makes concurrent duplicates safe.
        if await tx.users.by_email_key(email_key) is not None:
            raise errors.EmailTaken()
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
            raise errors.EmailTaken() from exc
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


def _display_name(raw: str) -> str:
    """The name as typed, trimmed. Control characters are refused: the name goes into email
    headers and logs, where a line break could forge a header or a log line."""
    name = raw.strip()
    if not name:
        raise errors.InvalidDisplayName("Tell us the name to show on your portfolio.")
    if any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in name):
        raise errors.InvalidDisplayName("A display name cannot contain line breaks or tabs.")
    return name


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


def _login_key(email: str) -> str:
    """The throttle's account key: the normalised address, or the raw input lower-cased (a
    malformed address is throttled like any other, and answered like a wrong password)."""
    try:
        return normalise(email)[1]
    except errors.InvalidEmail:
        return email.strip().lower()[:320]


async def _begin_attempt(
    uow: UowFactory, email_key: str, client: Client, now: datetime, settings: Settings
) -> tuple[LoginAttempt, User | None]:
    """Decide whether this attempt may run and hold its place in the window (see throttle.py)."""
    limits = (
        (throttle.Limit(settings.login_max_failures_per_account, settings.login_window), True),
        (throttle.Limit(settings.login_max_failures_per_address, settings.login_window), False),
    )
    async with uow() as tx:
        await tx.attempts.lock(email_key, client.address)
        for limit, per_account in limits:
            recent = await tx.attempts.recent(
                now - limit.window,
                # Only the account's count restarts after a success: one known account must not
                # reset the counter of an address that is guessing at others.
                (*throttle.FAILURES, SUCCESS) if per_account else throttle.FAILURES,
                limit.max_failures,
                email_key=email_key if per_account else None,
                address=None if per_account else client.address,
            )
            wait = throttle.wait_time(recent, limit, now)
            if wait is not None:
                await tx.attempts.add(_attempt(email_key, client, THROTTLED, now))
                await tx.commit()
                log.warning(
                    "login throttled",
                    per="account" if per_account else "address",
                    retry_after_s=int(wait.total_seconds()),
                )
                raise errors.Throttled(wait)
        user = await tx.users.by_email_key(email_key)
        attempt = await tx.attempts.add(
            _attempt(email_key, client, IN_PROGRESS, now, user.id if user else None)
        )
        await tx.commit()
    return attempt, user


def _attempt(
    email_key: str,
    client: Client,
    outcome: str,
    now: datetime,
    user_id: uuid.UUID | None = None,
) -> LoginAttempt:
    return LoginAttempt(
        user_id=user_id,
        email_key=email_key,
        client_address=client.address,
        user_agent=(client.user_agent or "")[:300] or None,
        outcome=outcome,
        at=now,
    )


async def _settle_attempt(
    uow: UowFactory, attempt: LoginAttempt, outcome: str, user_id: uuid.UUID | None
) -> None:
    assert attempt.id is not None  # flushed when it was added
    async with uow() as tx:
        await tx.attempts.settle(attempt.id, outcome, user_id=user_id)
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
    """Check the password and open a session. Unknown email and wrong password are one answer,
    in the same time; the account's state is told only to someone who knows its password."""
    email_key = _login_key(email)
    now = clock.now()
    attempt, user = await _begin_attempt(uow, email_key, client, now, settings)
    # The slow part runs outside any transaction; an unknown email costs the same time.
    if user is None:
        await hasher.verify_nobody(password)
        ok = False
    else:
        ok = await hasher.verify(user.password_hash, password)
    if user is None or not ok:
        await _settle_attempt(uow, attempt, BAD_CREDENTIALS, user.id if user else None)
        raise errors.InvalidCredentials()
    if user.status in (PENDING, DISABLED):
        await _settle_attempt(uow, attempt, user.status, user.id)
        raise errors.AccountPending() if user.status == PENDING else errors.AccountDisabled()
    rehash = await hasher.hash(password) if hasher.needs_rehash(user.password_hash) else None
    refresh = new_token()
    async with uow() as tx:
        locked = await tx.users.get(user.id, lock=True)
        assert locked is not None  # accounts are never deleted
        assert attempt.id is not None
        if locked.status != ACTIVE:  # disabled while the password was being checked
            await tx.attempts.settle(attempt.id, locked.status, user_id=locked.id)
            await tx.commit()
            raise errors.AccountDisabled()
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
        refresh_row = _refresh_token(session, refresh, now, settings)
        tx.session.add(refresh_row)
        await tx.attempts.settle(attempt.id, SUCCESS, user_id=locked.id, first_login=first_login)
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
    log.info("login", user_id=str(user.id), session_id=str(session.id), first_login=first_login)
    return _pair(keys, user.id, session.id, refresh, refresh_row.expires_at, now, settings)


def _refresh_token(session: Session, token: str, now: datetime, settings: Settings) -> RefreshToken:
    # A refresh token never outlives its session's absolute lifetime.
    return RefreshToken(
        session_id=session.id,
        token_hash=token_hash(token),
        created_at=now,
        expires_at=min(now + settings.refresh_token_ttl, session.expires_at),
    )


def _pair(
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
        successor_row = _refresh_token(session, successor, now, settings)
        tx.session.add(successor_row)
        await tx.commit()
    return _pair(
        keys, session.user_id, session.id, successor, successor_row.expires_at, now, settings
    )


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


# --- retention ------------------------------------------------------------------------------


async def prune_expired(*, uow: UowFactory, clock: Clock, settings: Settings) -> dict[str, int]:
    """Delete audit rows past their retention and tokens and sessions long ended.

    Idempotent, so replicas may run it side by side; returns the rows deleted per kind.
    """
    now = clock.now()
    ended = now - settings.token_retention
    async with uow() as tx:
        deleted = {
            "login_attempts": await tx.retention.login_attempts_before(
                now - settings.audit_retention
            ),
            "verification_tokens": await tx.retention.verification_tokens_expired_before(ended),
            "refresh_tokens": (
                await tx.retention.refresh_tokens_of_sessions_ended_before(ended)
                + await tx.retention.refresh_tokens_expired_before(ended)
            ),
            "sessions": await tx.retention.sessions_ended_before(ended),
        }
        await tx.commit()
    if any(deleted.values()):
        log.info("expired rows pruned", **deleted)
    return deleted
