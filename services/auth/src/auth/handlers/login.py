"""Login: the throttle, the equal-time password check, the new session and its event."""

from __future__ import annotations

import uuid
from datetime import datetime

from auth import errors, throttle
from auth.attempts import AttemptWindow
from auth.config import Settings
from auth.emails import normalise
from auth.handlers.common import Client, UowFactory
from auth.handlers.sessions import new_refresh_token, token_pair
from auth.hashing import PasswordHasher
from auth.keys import KeyRing
from auth.models import (
    ACTIVE,
    BAD_CREDENTIALS,
    DISABLED,
    IN_PROGRESS,
    PENDING,
    SUCCESS,
    THROTTLED,
    LoginAttempt,
    Session,
    TokenPair,
    User,
)
from auth.networks import network_of
from auth.opaque_tokens import new_token
from events import get_logger
from events.contracts import UserLoggedInV1
from servicekit.clock import Clock

log = get_logger("auth.login")


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
    network = network_of(client.address)
    window = settings.login_window
    async with uow() as tx:
        await tx.attempts.lock(email_key, network)
        # Only an account's counts restart after a success: one known account must not reset
        # the count of a network that is guessing at others.
        with_success = (*throttle.FAILURES, SUCCESS)
        recent = await tx.attempts.recent(
            now - window,
            {
                "here": AttemptWindow(
                    with_success,
                    settings.login_max_failures_per_account,
                    email_key=email_key,
                    network=network,
                ),
                "network": AttemptWindow(
                    throttle.FAILURES, settings.login_max_failures_per_address, network=network
                ),
                "anywhere": AttemptWindow(
                    with_success, settings.login_account_slow_after, email_key=email_key
                ),
            },
        )
        waits = {
            "account and network": throttle.wait_time(
                recent["here"],
                throttle.Limit(settings.login_max_failures_per_account, window),
                now,
            ),
            "network": throttle.wait_time(
                recent["network"],
                throttle.Limit(settings.login_max_failures_per_address, window),
                now,
            ),
            "account (spaced)": throttle.spacing_wait(
                recent["anywhere"],
                throttle.Limit(settings.login_account_slow_after, window),
                settings.login_account_delay,
                now,
            ),
        }
        for per, wait in waits.items():
            if wait is not None:
                await tx.attempts.add(_attempt(email_key, client, THROTTLED, now))
                await tx.commit()
                log.warning("login throttled", per=per, retry_after_s=int(wait.total_seconds()))
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
        client_address=client.address[:64],
        client_network=network_of(client.address),
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
    # Admitted (or refused) before the attempt is recorded: a refusal is not a failure. The
    # place is held until the last hash (a rehash included) is done.
    with hasher.admitted():
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
        needs_rehash = hasher.needs_rehash(user.password_hash)
        rehash = await hasher.hash(password) if needs_rehash else None
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
        tx.db.add(session)
        await tx.db.flush()  # the session row first: the refresh token references it
        refresh_row = new_refresh_token(session, refresh, now, settings)
        tx.db.add(refresh_row)
        await tx.attempts.settle(attempt.id, SUCCESS, user_id=locked.id, first_login=first_login)
        await tx.publish(
            UserLoggedInV1(
                user_id=locked.id,
                email=locked.email,
                display_name=locked.display_name,
                first_login=first_login,
                logged_in_at=now,
            ),
            subject=str(locked.id),
        )
        await tx.commit()
    log.info("login", user_id=str(user.id), session_id=str(session.id), first_login=first_login)
    return token_pair(keys, user.id, session.id, refresh, refresh_row.expires_at, now, settings)
