"""Sending the email an event asks for, once: a lease, the send, the outcome recorded."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from events import Delivery, get_logger
from events.contracts import (
    EmailSentV1,
)
from notify.config import Settings
from notify.handlers.common import (
    EmailInProgress,
    UowFactory,
    address_key,
)
from notify.handlers.failures import publish_failure, record_failure
from notify.handlers.outbound import Composer, Outbound
from notify.mailer import Mailer, PermanentSendError, SendResult, TransientSendError
from notify.models import (
    FINAL,
    SENDING,
    SENT,
    SUPPRESSED,
    Email,
)
from notify.rendering import compose, message_id
from servicekit.clock import Clock

log = get_logger("notify.sending")

MAX_PROVIDER_BACKOFF = timedelta(hours=1)
"""A Retry-After beyond this is not trusted: the retry tiers take over after it."""


async def send_email(
    delivery: Delivery[Any],
    *,
    composer: Composer,
    uow: UowFactory,
    mailer: Mailer,
    settings: Settings,
    clock: Clock,
) -> None:
    """Send the email `delivery` asks for, once.

    Two short transactions around the send: take the email's lease (so a concurrent duplicate
    backs off), then record the outcome with the inbox row and the outcome's event. A crash
    between the send and the record leaves the email `sending` with a lease that expires: the
    redelivery sends it again, with the same Message-ID (the at-least-once window).
    """
    outbound = composer(delivery.data, settings)
    if outbound is None:
        async with uow() as tx:
            if await tx.claim(delivery):
                await tx.commit()
        return
    attempt = await _take_lease(delivery, outbound, uow=uow, settings=settings, clock=clock)
    if attempt is None:
        return
    cause, template = delivery.event.id, outbound.template
    try:
        message = compose(
            template,
            to=outbound.recipient,
            cause_event_id=cause,
            settings=settings,
            context=outbound.context,
        )
        # Cut the send off well inside the lease, so a redelivery that finds the lease expired
        # can never overlap a send still in progress.
        async with asyncio.timeout(settings.send_lease.total_seconds() / 2):
            result = await mailer.send(message)
    except TimeoutError as exc:
        await _release(cause, template, "send timed out", None, uow=uow, clock=clock)
        raise TransientSendError("the send did not finish within half the lease") from exc
    except PermanentSendError as exc:
        await record_failure(delivery, template, "permanent", str(exc), uow=uow, clock=clock)
        log.warning("email refused for good", template=template, error=str(exc)[:300])
        return
    except TransientSendError as exc:
        await _release(cause, template, str(exc), exc.retry_after, uow=uow, clock=clock)
        raise
    await _record_sent(delivery, template, result, uow=uow, clock=clock)
    log.info("email sent", template=template, attempt=attempt)


async def _take_lease(
    delivery: Delivery[Any],
    outbound: Outbound,
    *,
    uow: UowFactory,
    settings: Settings,
    clock: Clock,
) -> int | None:
    """Own the email for `send_lease` and return its attempt number; None when there is nothing
    to send (already final, or the address is suppressed: that outcome is recorded here)."""
    event, now = delivery.event, clock.now()
    async with uow() as tx:
        email = await tx.emails.for_cause(event.id, outbound.template)
        if email is not None and email.status in FINAL:
            if await tx.claim(delivery):
                await tx.commit()
            return None
        if email is not None and email.lease_until is not None and email.lease_until > now:
            why = email.last_error or "being sent by another delivery"
            raise EmailInProgress(f"email {email.id} leased until {email.lease_until}: {why}")
        if email is None:
            domain = settings.bounce_address.rsplit("@", 1)[-1]
            email = Email(
                cause_event_id=event.id,
                template=outbound.template,
                recipient=outbound.recipient,
                user_id=outbound.user_id,
                message_id=message_id(event.id, outbound.template, domain),
                created_at=now,
                updated_at=now,
            )
            tx.db.add(email)
            try:
                # Flushed here, where a concurrent copy's row makes it fail (the unique key
                # waits for that copy's commit), rather than by whichever query comes next.
                await tx.db.flush()
            except IntegrityError as exc:
                raise EmailInProgress("email created concurrently by another delivery") from exc
        suppression = await tx.suppressions.get(address_key(outbound.recipient))
        if suppression is not None:
            email.status = SUPPRESSED
            email.updated_at = now
            email.last_error = f"suppressed: {suppression.reason}"
            await tx.claim(delivery)
            await publish_failure(tx, email, "suppressed", f"address {suppression.reason}", now)
            await tx.commit()
            log.info("email suppressed", template=outbound.template, email_id=str(email.id))
            return None
        email.status = SENDING  # an `exhausted` email being replayed is in flight again
        email.attempts += 1
        email.lease_until = now + settings.send_lease
        email.updated_at = now
        await tx.commit()
        return email.attempts


async def _record_sent(
    delivery: Delivery[Any], template: str, result: SendResult, *, uow: UowFactory, clock: Clock
) -> None:
    """The transport took the email: mark it sent, close the inbox, say so."""
    sent_at = clock.now()
    async with uow() as tx:
        email = await tx.emails.for_cause(delivery.event.id, template)
        assert email is not None, "the lease step created it"
        email.status = SENT
        email.sent_at = sent_at
        email.updated_at = sent_at
        email.lease_until = None
        email.last_error = None
        email.provider = result.provider
        email.provider_message_id = result.provider_message_id
        await tx.claim(delivery)
        await tx.publish(
            EmailSentV1(
                email_id=email.id,
                recipient=email.recipient,
                template=email.template,
                provider=result.provider,
                provider_message_id=result.provider_message_id,
                user_id=email.user_id,
                cause_event_id=email.cause_event_id,
                sent_at=sent_at,
            ),
            subject=str(email.user_id or email.id),
        )
        await tx.commit()


async def _release(
    cause_event_id: uuid.UUID,
    template: str,
    error: str,
    backoff: timedelta | None,
    *,
    uow: UowFactory,
    clock: Clock,
) -> None:
    """Give the lease back after a transient failure, or hold it for as long as the provider
    asked (Retry-After): the retry that comes sooner backs off without calling the provider."""
    now = clock.now()
    async with uow() as tx:
        email = await tx.emails.for_cause(cause_event_id, template)
        if email is None:
            return
        email.last_error = error[:1000]
        email.lease_until = now + min(backoff, MAX_PROVIDER_BACKOFF) if backoff else None
        email.updated_at = now
        await tx.commit()
