"""Failed emails: refused for good, or given up on by the bus; each said with email.failed.v1."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from events import Delivery, get_logger
from events.contracts import (
    EmailFailedV1,
)
from notify.config import Settings
from notify.handlers.common import (
    FailReason,
    UowFactory,
)
from notify.handlers.outbound import Composer
from notify.models import (
    EXHAUSTED,
    FAILED,
    FINAL,
    Email,
)
from notify.rendering import message_id
from notify.unit_of_work import NotifyUnitOfWork
from servicekit.clock import Clock

log = get_logger("notify.failures")


async def publish_failure(
    tx: NotifyUnitOfWork, email: Email, reason: FailReason, detail: str, at: datetime
) -> None:
    """email.failed.v1 for `email`, in the transaction that records the failure."""
    await tx.publish(
        EmailFailedV1(
            email_id=email.id,
            recipient=email.recipient,
            template=email.template,
            reason=reason,
            detail=detail[:1000],
            user_id=email.user_id,
            cause_event_id=email.cause_event_id,
            failed_at=at,
        ),
        subject=email.user_id or email.id,
    )


async def record_failure(
    delivery: Delivery[Any],
    template: str,
    reason: FailReason,
    detail: str,
    *,
    uow: UowFactory,
    clock: Clock,
    recipient: str | None = None,
    user_id: uuid.UUID | None = None,
    domain: str | None = None,
) -> None:
    """Record a failed email and publish email.failed.v1, once per failure.

    `recipient`, `user_id` and `domain` create the email when no send was ever tried (the bus
    gave up before the first lease).
    """
    now = clock.now()
    async with uow() as tx:
        email = await tx.emails.for_cause(delivery.event.id, template)
        if email is not None and email.status in FINAL:
            return
        if email is None:
            if recipient is None or domain is None:
                return
            email = Email(
                cause_event_id=delivery.event.id,
                template=template,
                recipient=recipient,
                user_id=user_id,
                message_id=message_id(delivery.event.id, template, domain),
                created_at=now,
                updated_at=now,
            )
            tx.db.add(email)
        if reason == "retries_exhausted":
            if email.status == EXHAUSTED:
                return  # said already, and nothing was tried since
            # Not final and not in the inbox: a replay of the parked message must send it.
            email.status = EXHAUSTED
        else:
            email.status = FAILED
            await tx.claim(delivery)
        email.last_error = detail[:1000]
        email.lease_until = None
        email.updated_at = now
        await publish_failure(tx, email, reason, detail, now)
        await tx.commit()


async def record_exhausted(
    delivery: Delivery[Any],
    error: BaseException,
    reason: str,
    *,
    composer: Composer,
    uow: UowFactory,
    settings: Settings,
    clock: Clock,
) -> None:
    """The bus gave up on this delivery: say so with email.failed.v1 before it is parked."""
    outbound = composer(delivery.data, settings)
    if outbound is None:
        return
    detail = f"{type(error).__name__}: {error}"
    await record_failure(
        delivery,
        outbound.template,
        "permanent" if reason == "non_retryable" else "retries_exhausted",
        detail,
        uow=uow,
        clock=clock,
        recipient=outbound.recipient,
        user_id=outbound.user_id,
        domain=settings.bounce_address.rsplit("@", 1)[-1],
    )
    log.error("email given up", template=outbound.template, reason=reason, error=detail[:300])
