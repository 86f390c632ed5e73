"""Bounces from the provider's webhook and from SMTP delivery reports become suppressions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from events import get_logger
from events.contracts import (
    EmailBouncedV1,
)
from notify.dsn import DeliveryReport
from notify.handlers.common import (
    BounceKind,
    UowFactory,
    address_key,
)
from notify.metrics import BOUNCES
from notify.models import (
    BOUNCED,
    DELIVERED,
    SENT,
    Email,
)
from notify.unit_of_work import NotifyUnitOfWork
from servicekit.clock import Clock

log = get_logger("notify.bounces")


async def _bounce(
    tx: NotifyUnitOfWork,
    *,
    recipient: str,
    kind: BounceKind,
    reason: str,
    at: datetime,
    provider_event_id: str | None,
    email: Email | None,
) -> None:
    if email is not None and email.status != BOUNCED:
        email.status = BOUNCED
        email.last_error = f"{kind}: {reason}"[:1000]
        email.updated_at = at
    if await tx.suppressions.add(address_key(recipient), kind, reason[:1000], at):
        await tx.publish(
            EmailBouncedV1(
                recipient=recipient,
                kind=kind,
                reason=reason[:1000] or kind,
                bounced_at=at,
                provider_event_id=provider_event_id,
            ),
            subject=address_key(recipient),
        )
        BOUNCES.labels(kind).inc()
        log.info("address suppressed", kind=kind)


_DROPPED_AS_BOUNCE = ("bounced", "invalid", "spam")


async def handle_provider_events(
    items: list[dict[str, Any]], *, uow: UowFactory, clock: Clock
) -> int:
    """SendGrid's event webhook batch, in one transaction; returns how many were new."""
    handled = 0
    async with uow() as tx:
        for item in items:
            event_id = str(item.get("sg_event_id") or "")
            recipient = str(item.get("email") or "")
            kind = str(item.get("event") or "")
            if not event_id or not recipient:
                continue
            if not await tx.provider_events.first_time("sendgrid", event_id, clock.now()):
                continue
            handled += 1
            at = _timestamp(item.get("timestamp"), clock)
            provider_id = str(item.get("sg_message_id") or "").split(".", 1)[0]
            email = await tx.emails.by_provider_message_id(provider_id) if provider_id else None
            reason = str(item.get("reason") or item.get("response") or kind)
            if kind == "delivered":
                if email is not None and email.status == SENT:
                    email.status = DELIVERED
                    email.updated_at = at
            elif kind == "bounce" and item.get("type") != "blocked":
                # "blocked" is a temporary refusal by the receiving server, not a dead address.
                await _bounce(
                    tx,
                    recipient=recipient,
                    kind="bounce",
                    reason=reason,
                    at=at,
                    provider_event_id=event_id,
                    email=email,
                )
            elif kind == "spamreport":
                await _bounce(
                    tx,
                    recipient=recipient,
                    kind="spamreport",
                    reason="spam report",
                    at=at,
                    provider_event_id=event_id,
                    email=email,
                )
            elif kind == "dropped" and any(w in reason.lower() for w in _DROPPED_AS_BOUNCE):
                await _bounce(
                    tx,
                    recipient=recipient,
                    kind="bounce",
                    reason=reason,
                    at=at,
                    provider_event_id=event_id,
                    email=email,
                )
        await tx.commit()
    return handled


def _timestamp(value: Any, clock: Clock) -> datetime:
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError):
        return clock.now()


async def handle_delivery_report(
    report: DeliveryReport, email_id: uuid.UUID, *, uow: UowFactory, clock: Clock
) -> int:
    """An SMTP DSN that came back to the signed return path of email `email_id` (verp.py): the
    recipient is suppressed when the report says that email failed for good.

    A report counts only for the email its return path names, and only for that email's own
    recipient, once it was handed to a transport; a report that names another original
    Message-ID is not about this email. So a report cannot be forged for an address without
    the return path of a message we sent to it.
    """
    failed = [r for r in report.recipients if r.permanent_failure]
    if not failed:
        return 0
    now = clock.now()
    async with uow() as tx:
        if not await tx.provider_events.first_time("dsn", report.report_id, now):
            return 0
        email = await tx.emails.get(email_id)
        if email is None or email.attempts == 0:
            log.warning("delivery report for an email we never sent; ignored")
            await tx.commit()
            return 0
        if report.original_message_id not in (None, email.message_id):
            log.warning("delivery report about another message than its return path; ignored")
            await tx.commit()
            return 0
        key = address_key(email.recipient)
        mine = [r for r in failed if address_key(r.address) == key]
        for recipient in mine[:1]:
            await _bounce(
                tx,
                recipient=email.recipient,
                kind="dsn",
                reason=f"{recipient.status} {recipient.diagnostic}".strip(),
                at=now,
                provider_event_id=report.report_id,
                email=email,
            )
        await tx.commit()
    if len(mine) < len(failed):
        log.warning("delivery report names recipients the email was not sent to; ignored")
    return len(mine[:1])
