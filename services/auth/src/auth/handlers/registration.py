"""Registration and email verification: each state change and its events commit together."""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta

from auth import errors
from auth.config import Settings
from auth.emails import normalise
from auth.handlers.common import Client, UowFactory, admit
from auth.hashing import PasswordHasher
from auth.models import (
    ACTIVE,
    PENDING,
    REGISTER,
    User,
    UserCreate,
    VerificationToken,
)
from auth.opaque_tokens import new_token, token_hash
from auth.passwords import PasswordPolicy
from auth.unit_of_work import AuthUnitOfWork
from events import get_logger
from events.contracts import (
    UserRegisteredV1,
    UserSignupAttemptedV1,
    UserVerificationRequestedV1,
    UserVerifiedV1,
)
from servicekit.clock import Clock

log = get_logger("auth.registration")


async def register_user(
    request: UserCreate,
    client: Client,
    *,
    uow: UowFactory,
    hasher: PasswordHasher,
    policy: PasswordPolicy,
    clock: Clock,
    settings: Settings,
) -> None:
    """Create a pending account and ask for its email to be verified, in one transaction.

    The caller learns nothing about whether the address had an account: a known address costs
    the same hash and gets the same answer, and its owner is told of the attempt by email
    instead (`user.signup_attempted.v1`); nothing in that account changes.
    """
    email, email_key = normalise(request.email)
    display_name = _display_name(request.display_name)
    policy.check(request.password, email=email, display_name=display_name)
    with hasher.admitted():  # before the request counts against any limit
        now = clock.now()
        await admit(uow, REGISTER, client, email_key, now, settings)
        password_hash = await hasher.hash(request.password)  # a known address too: equal time
    user = User(
        email=email,
        email_key=email_key,
        display_name=display_name,
        password_hash=password_hash,
        status=PENDING,
        created_at=now,
    )
    async with uow() as tx:
        # One statement decides: a new account, or the address is taken (and stays untouched).
        if not await tx.users.add_unless_taken(user):
            existing = await tx.users.by_email_key(email_key)
            if existing is not None:  # None: deleted by retention since; nothing to tell
                await _tell_the_owner(tx, existing, now)
                await tx.commit()
            return
        token = _new_verification_token(tx, user, now, settings.verification_ttl)
        await tx.publish(
            UserRegisteredV1(
                user_id=user.id, email=email, display_name=display_name, registered_at=now
            ),
            subject=str(user.id),
        )
        await tx.publish(
            _verification_requested(user, token, now + settings.verification_ttl),
            subject=user.id,
        )
        await tx.commit()
    log.info("user registered", user_id=str(user.id))


async def _tell_the_owner(tx: AuthUnitOfWork, user: User, now: datetime) -> None:
    await tx.publish(
        UserSignupAttemptedV1(
            user_id=user.id, email=user.email, display_name=user.display_name, attempted_at=now
        ),
        subject=str(user.id),
    )
    log.info("registration of a known address; the owner is told", user_id=str(user.id))


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
    tx.db.add(
        VerificationToken(
            user_id=user.id, token_hash=token_hash(token), created_at=now, expires_at=now + ttl
        )
    )
    return token


def _verification_requested(
    user: User, token: str, expires_at: datetime
) -> UserVerificationRequestedV1:
    return UserVerificationRequestedV1(
        user_id=user.id,
        email=user.email,
        display_name=user.display_name,
        token=token,
        expires_at=expires_at,
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
                UserVerifiedV1(
                    user_id=user.id,
                    email=user.email,
                    display_name=user.display_name,
                    verified_at=now,
                ),
                subject=str(user.id),
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
        await tx.publish(
            _verification_requested(user, token, now + settings.verification_ttl),
            subject=user.id,
        )
        await tx.commit()
    log.info("verification resent", user_id=str(user.id))
