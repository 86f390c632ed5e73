"""auth.email_status: each account's email deliverability, from notify's outcomes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from auth import errors
from auth.emails import normalise
from auth.handlers.common import UowFactory
from auth.models import (
    EMAIL_BOUNCED,
    EMAIL_FAILED,
    EMAIL_SENT,
    EMAIL_UNKNOWN,
)
from auth.unit_of_work import AuthUnitOfWork
from events import Delivery, get_logger
from events.contracts import (
    EmailBouncedV1,
    EmailFailedV1,
    EmailSentV1,
    EmailSuppressionLiftedV1,
)

log = get_logger("auth.email_status")


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
    if status == EMAIL_UNKNOWN and user.email_status not in (EMAIL_BOUNCED, EMAIL_FAILED):
        return  # lifting a suppression clears a bounce, never a better-known state
    user.email_status = status
    user.email_status_at = at
    user.email_status_detail = (detail or "")[:500] or None


Outcome = EmailSentV1 | EmailFailedV1 | EmailBouncedV1 | EmailSuppressionLiftedV1


def _outcome(data: Outcome) -> dict[str, Any]:
    """What each of notify's outcomes says about the address."""
    if isinstance(data, EmailSuppressionLiftedV1):
        # An operator lifted the suppression: the address is deliverable as far as we know.
        return {
            "user_id": None,
            "email": data.recipient,
            "status": EMAIL_UNKNOWN,
            "at": data.lifted_at,
            "detail": f"suppression lifted (was {data.previous_reason})",
        }
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


async def record_email_outcome(delivery: Delivery[Outcome], *, uow: UowFactory) -> None:
    async with uow() as tx:
        if not await tx.claim(delivery):
            return
        await _set_email_status(tx, **_outcome(delivery.data))
        await tx.commit()
