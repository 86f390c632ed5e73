"""The retention pass the worker runs: audit rows, spent tokens and ended sessions."""

from __future__ import annotations

from auth.config import Settings
from auth.handlers.common import UowFactory
from events import get_logger
from servicekit.clock import Clock

log = get_logger("auth.retention")


async def prune_expired(*, uow: UowFactory, clock: Clock, settings: Settings) -> dict[str, int]:
    """Delete audit rows past their retention, tokens and sessions long ended, and accounts
    never verified (their address may be registered again).

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
            "request_events": await tx.retention.request_events_before(
                now - settings.audit_retention
            ),
            "password_reset_tokens": await tx.retention.reset_tokens_expired_before(ended),
            "unverified_accounts": await tx.retention.unverified_accounts_created_before(
                now - settings.unverified_account_ttl
            ),
        }
        await tx.commit()
    if any(deleted.values()):
        log.info("expired rows pruned", **deleted)
    return deleted
