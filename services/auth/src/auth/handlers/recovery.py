"""Password reset: a link to the address proves who owns it; the new password ends every
session. A reset of an account never verified verifies it (the link reached the address), which
is also how an owner takes back an address someone else registered first."""

from __future__ import annotations

from auth import errors
from auth.config import Settings
from auth.emails import normalise
from auth.handlers.common import Client, UowFactory, admit
from auth.hashing import PasswordHasher
from auth.models import ACTIVE, DISABLED, PENDING, RESET, PasswordResetToken
from auth.opaque_tokens import new_token, token_hash
from auth.passwords import PasswordPolicy
from events import get_logger
from events.contracts import UserPasswordResetRequestedV1, UserVerifiedV1
from servicekit.clock import Clock

log = get_logger("auth.recovery")


async def request_password_reset(
    email: str, client: Client, *, uow: UowFactory, clock: Clock, settings: Settings
) -> None:
    """Mail a single-use reset link to the address, if it has an account; the answer is the
    same either way, and the limits (per network, per inbox) count both."""
    _, email_key = normalise(email)
    now = clock.now()
    await admit(uow, RESET, client, email_key, now, settings)
    async with uow() as tx:
        user = await tx.users.by_email_key(email_key, lock=True)
        if user is None or user.status == DISABLED:
            return
        await tx.resets.spend_open_for(user.id, now)  # only the newest link works
        token = new_token()
        expires_at = now + settings.reset_token_ttl
        tx.db.add(
            PasswordResetToken(
                user_id=user.id, token_hash=token_hash(token), created_at=now, expires_at=expires_at
            )
        )
        await tx.publish(
            UserPasswordResetRequestedV1(
                user_id=user.id,
                email=user.email,
                display_name=user.display_name,
                token=token,
                expires_at=expires_at,
            ),
            subject=str(user.id),
        )
        await tx.commit()
    log.info("password reset requested", user_id=str(user.id))


async def reset_password(
    token: str,
    password: str,
    *,
    uow: UowFactory,
    hasher: PasswordHasher,
    policy: PasswordPolicy,
    clock: Clock,
) -> None:
    """Spend the token, set the new password, end every session, in one transaction."""
    now = clock.now()
    async with uow() as tx:
        record = await tx.resets.by_hash(token_hash(token))
        if record is None:
            raise errors.ResetTokenUnknown()
        if record.used_at is not None or record.expires_at <= now:
            raise errors.ResetTokenExpired()
        user = await tx.users.get(record.user_id)
        if user is None or user.status == DISABLED:
            raise errors.ResetTokenExpired()
        policy.check(password, email=user.email, display_name=user.display_name)
    password_hash = await hasher.hash(password)  # outside any transaction: it is slow
    async with uow() as tx:
        record = await tx.resets.by_hash(token_hash(token))
        if record is None or record.used_at is not None:  # spent while we were hashing
            raise errors.ResetTokenExpired()
        user = await tx.users.get(record.user_id, lock=True)
        assert user is not None  # accounts with tokens are never deleted (retention: pending)
        record.used_at = now
        user.password_hash = password_hash
        ended = await tx.sessions.revoke_all(user.id, now, "password_reset")
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
    log.info("password reset", user_id=str(user.id), sessions_ended=ended)
