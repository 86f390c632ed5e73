"""Notify's use cases: send an email per event exactly once where the world allows it, record
every outcome, and turn provider bounces into suppressions and events."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy.exc import IntegrityError

from events import Delivery, Event, new_event
from events.contracts import (
    EmailBouncedV1,
    EmailFailedV1,
    EmailSentV1,
    UserLoggedInV1,
    UserRegisteredV1,
    UserVerificationRequestedV1,
)
from events.logs import get_logger
from notify.config import Settings
from notify.dsn import DeliveryReport
from notify.mailer import Mailer, PermanentSendError, SendResult, TransientSendError
from notify.models import (
    BOUNCED,
    DELIVERED,
    EXHAUSTED,
    FAILED,
    FINAL,
    SENDING,
    SENT,
    SUPPRESSED,
    Email,
)
from notify.rendering import compose, message_id, verify_url
from notify.unit_of_work import NotifyUnitOfWork
from servicekit.clock import Clock

log = get_logger("notify.handlers")
UowFactory = Callable[[], NotifyUnitOfWork]
FailReason = Literal["permanent", "retries_exhausted", "suppressed"]
BounceKind = Literal["bounce", "spamreport", "dsn"]


class EmailInProgress(Exception):
    """The email's lease is held: another delivery is sending it, or the provider asked us to
    wait (Retry-After). Raised to go round the retry path; the work will be done."""


MAX_PROVIDER_BACKOFF = timedelta(hours=1)
"""A Retry-After beyond this is not trusted: the retry tiers take over after it."""


def address_key(address: str) -> str:
    return address.strip().lower()


@dataclass(frozen=True)
class Outbound:
    """What an event asks to be sent."""

    template: str
    recipient: str
    user_id: uuid.UUID | None
    context: dict[str, Any] = field(default_factory=dict)


# --- what each event sends ----------------------------------------------------------------------


def welcome(data: UserRegisteredV1, settings: Settings) -> Outbound | None:
    return Outbound("welcome", data.email, data.user_id, {"display_name": data.display_name})


def verification(data: UserVerificationRequestedV1, settings: Settings) -> Outbound | None:
    return Outbound(
        "verification",
        data.email,
        data.user_id,
        {
            "display_name": data.display_name,
            "verify_url": verify_url(settings, data.token),
            "expires_at": data.expires_at.strftime("%d %B %Y, %H:%M UTC"),
        },
    )


def onboarding(data: UserLoggedInV1, settings: Settings) -> Outbound | None:
    if not data.first_login:
        return None  # only the first login gets the getting-started email
    return Outbound("onboarding", data.email, data.user_id, {"display_name": data.display_name})


Composer = Callable[[Any, Settings], Outbound | None]


# --- sending ------------------------------------------------------------------------------------


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
        await _record_failure(delivery, template, "permanent", str(exc), uow=uow, clock=clock)
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
            tx.session.add(email)
            try:
                # Flushed here, where a concurrent copy's row makes it fail (the unique key
                # waits for that copy's commit), rather than by whichever query comes next.
                await tx.session.flush()
            except IntegrityError as exc:
                raise EmailInProgress("email created concurrently by another delivery") from exc
        suppression = await tx.suppressions.get(address_key(outbound.recipient))
        if suppression is not None:
            email.status = SUPPRESSED
            email.updated_at = now
            email.last_error = f"suppressed: {suppression.reason}"
            await tx.claim(delivery)
            await tx.publish(_failed(email, "suppressed", f"address {suppression.reason}", now))
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
            new_event(
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


def _failed(email: Email, reason: FailReason, detail: str, at: datetime) -> Event[EmailFailedV1]:
    return new_event(
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
        subject=str(email.user_id or email.id),
    )


async def _record_failure(
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
            tx.session.add(email)
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
        await tx.publish(_failed(email, reason, detail, now))
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
    await _record_failure(
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


# --- bounces: the provider's webhook and SMTP delivery reports ----------------------------------


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
            new_event(
                EmailBouncedV1(
                    recipient=recipient,
                    kind=kind,
                    reason=reason[:1000] or kind,
                    bounced_at=at,
                    provider_event_id=provider_event_id,
                ),
                subject=address_key(recipient),
            )
        )
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


async def handle_delivery_report(report: DeliveryReport, *, uow: UowFactory, clock: Clock) -> int:
    """An SMTP DSN: each recipient whose delivery failed for good is suppressed.

    Anyone can mail the bounce address, so a report counts only when it is about mail we sent:
    its original Message-ID (unguessable: it holds the event id) names one of our emails, or,
    when the reporting server left the original out, we did mail that recipient. Otherwise a
    forged report could suppress any address.
    """
    failed = [r for r in report.recipients if r.permanent_failure]
    if not failed:
        return 0
    now = clock.now()
    async with uow() as tx:
        if not await tx.provider_events.first_time("dsn", report.report_id, now):
            return 0
        email: Email | None = None
        if report.original_message_id:
            email = await tx.emails.by_message_id(report.original_message_id)
            if email is None:
                log.warning("delivery report about mail we did not send; ignored")
                await tx.commit()
                return 0
        suppressed = 0
        for recipient in failed:
            key = address_key(recipient.address)
            if email is not None and address_key(email.recipient) != key:
                continue  # the report names someone the original was not sent to
            if email is None and not await tx.emails.ever_sent_to(key):
                continue
            await _bounce(
                tx,
                recipient=recipient.address,
                kind="dsn",
                reason=f"{recipient.status} {recipient.diagnostic}".strip(),
                at=now,
                provider_event_id=report.report_id,
                email=email,
            )
            suppressed += 1
        await tx.commit()
    if suppressed < len(failed):
        log.warning("delivery report names recipients we did not mail; they were ignored")
    return suppressed


async def emails_of(user_id: uuid.UUID, *, uow: UowFactory) -> list[Email]:
    async with uow() as tx:
        return await tx.emails.of_user(user_id)
