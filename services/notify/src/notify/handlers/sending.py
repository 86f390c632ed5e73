"""Sending the email an event asks for, once: a lease, the send, the outcome recorded."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from events import Delivery, get_logger
from events.contracts import (
    EmailSentV1,
)
from notify import verp
from notify.config import Settings
from notify.handlers.common import (
    EmailInProgress,
    UowFactory,
    address_key,
)
from notify.handlers.failures import publish_failure, record_failure
from notify.handlers.outbound import Composer, Outbound
from notify.mailer import Mailer, PermanentSendError, SendResult, TransientSendError
from notify.metrics import EMAILS
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


LEASE_POLL_S = 0.5
"""How often a delivery waiting on a live lease looks again: the holder usually finishes (and
records the email final) long before its lease would end."""


@dataclass(frozen=True)
class _State:
    """What the email row says a delivery may do now."""

    done: bool = False  # final, suppressed, or refused: recorded, nothing to send
    wait_s: float = 0.0  # a live lease: wait for what is left of it
    attempt: int = 0  # the lease is ours: this is the attempt number
    email_id: uuid.UUID | None = None


async def send_email(
    delivery: Delivery[Any],
    *,
    composer: Composer,
    uow: UowFactory,
    mailer: Mailer,
    settings: Settings,
    clock: Clock,
    send_slots: asyncio.Semaphore,
) -> None:
    """Send the email `delivery` asks for, once.

    A lease covers one send: it is taken right before the send, inside one of the
    `max_concurrent_sends` slots, and lasts the send's deadline twice over. A delivery that
    meets a live lease (a copy redelivered after a broker cut, or after a crash) waits for what
    is left of it, here, rather than for the next step of the retry ladder; it finds the email
    final when the holder recorded it, or takes the lease when the holder died. The outcome is
    recorded right after the server accepts the mail, so a crash sends twice at most the
    emails whose sends were in flight: `max_concurrent_sends`.
    """
    outbound = composer(delivery.data, settings)
    if outbound is None:
        async with uow() as tx:
            if await tx.claim(delivery):
                await tx.commit()
        return
    give_up_at = time.monotonic() + 2 * settings.send_lease.total_seconds() + LEASE_POLL_S
    while True:
        state = await _lease(delivery, outbound, uow=uow, settings=settings, clock=clock)
        if state.done:
            return
        if state.wait_s > 0:
            if time.monotonic() > give_up_at:  # a lease taken again and again: the ladder
                raise EmailInProgress("the email's lease is taken by other deliveries")
            await asyncio.sleep(min(state.wait_s, LEASE_POLL_S))
            continue
        await send_slots.acquire()
        # From here the send runs to its end even if this delivery is cancelled (a broker cut
        # cancels the handlers of the channel it closes): a send that was begun is recorded,
        # so its redelivery finds the email sent instead of waiting out the lease, and sends
        # nothing twice. The slot is held until the send ends.
        work = asyncio.ensure_future(
            _leased_send(
                delivery,
                outbound,
                uow=uow,
                mailer=mailer,
                settings=settings,
                clock=clock,
                send_slots=send_slots,
            )
        )
        work.add_done_callback(_retrieved)
        if await asyncio.shield(work):
            return


def _retrieved(work: asyncio.Future[bool]) -> None:
    """A send whose delivery was cancelled still fails or succeeds: its error was recorded
    (the lease released), and is not reported again as never retrieved."""
    if not work.cancelled():
        work.exception()


async def _leased_send(
    delivery: Delivery[Any],
    outbound: Outbound,
    *,
    uow: UowFactory,
    mailer: Mailer,
    settings: Settings,
    clock: Clock,
    send_slots: asyncio.Semaphore,
) -> bool:
    """Inside a slot: take the lease, send, record. False when another delivery took the lease
    while this one waited for its slot (look again)."""
    try:
        state = await _lease(delivery, outbound, uow=uow, settings=settings, clock=clock, take=True)
        if state.done:
            return True
        if state.email_id is None:
            return False
        await _send(
            delivery, outbound, state, uow=uow, mailer=mailer, settings=settings, clock=clock
        )
        return True
    finally:
        send_slots.release()


async def _send(
    delivery: Delivery[Any],
    outbound: Outbound,
    state: _State,
    *,
    uow: UowFactory,
    mailer: Mailer,
    settings: Settings,
    clock: Clock,
) -> None:
    assert state.email_id is not None
    cause, template = delivery.event.id, outbound.template
    key = settings.bounce_secret.get_secret_value().encode()
    try:
        message = compose(
            template,
            to=outbound.recipient,
            cause_event_id=cause,
            settings=settings,
            context=outbound.context,
            return_path=verp.return_path(settings.bounce_address, state.email_id, key),
        )
        # The whole send is cut off at its deadline, well inside the lease, so a delivery that
        # finds the lease ended can never overlap a send still in progress.
        async with asyncio.timeout(settings.send_timeout.total_seconds()):
            result = await mailer.send(message)
    except TimeoutError as exc:
        EMAILS.labels(mailer.name, "timeout").inc()
        await _release(cause, template, "send timed out", None, uow=uow, clock=clock)
        raise TransientSendError(
            f"the send did not finish within {settings.send_timeout.total_seconds():g}s"
        ) from exc
    except PermanentSendError as exc:
        EMAILS.labels(mailer.name, "rejected").inc()
        await record_failure(delivery, template, "permanent", str(exc), uow=uow, clock=clock)
        log.warning("email refused for good", template=template, error=str(exc)[:300])
        return
    except TransientSendError as exc:
        EMAILS.labels(mailer.name, "transient_error").inc()
        await _release(cause, template, str(exc), exc.retry_after, uow=uow, clock=clock)
        raise
    EMAILS.labels(mailer.name, "sent").inc()
    await _record_sent(delivery, template, result, uow=uow, clock=clock)
    log.info("email sent", template=template, attempt=state.attempt)


async def _lease(
    delivery: Delivery[Any],
    outbound: Outbound,
    *,
    uow: UowFactory,
    settings: Settings,
    clock: Clock,
    take: bool = False,
) -> _State:
    """Read (and with `take`, own) the email's lease. A final or suppressed email is settled
    here (claimed, and a suppression recorded); the row is created on first sight."""
    event, now = delivery.event, clock.now()
    async with uow() as tx:
        email = await tx.emails.for_cause(event.id, outbound.template)
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
            except IntegrityError:
                return _State(wait_s=LEASE_POLL_S / 10)  # look again: the row exists now
        if email.status in FINAL:
            if await tx.claim(delivery):
                await tx.commit()
            return _State(done=True)
        if email.not_before is not None and email.not_before > now:
            why = email.last_error or "the provider asked us to wait"
            raise EmailInProgress(f"email {email.id} not before {email.not_before}: {why}")
        if email.lease_until is not None and email.lease_until > now:
            await tx.commit()  # the row created above, if it was
            return _State(wait_s=(email.lease_until - now).total_seconds())
        suppression = await tx.suppressions.get(address_key(outbound.recipient))
        if suppression is not None:
            email.status = SUPPRESSED
            email.updated_at = now
            email.last_error = f"suppressed: {suppression.reason}"
            await tx.claim(delivery)
            await publish_failure(tx, email, "suppressed", f"address {suppression.reason}", now)
            await tx.commit()
            log.info("email suppressed", template=outbound.template, email_id=str(email.id))
            return _State(done=True)
        if not take:
            await tx.commit()
            return _State()
        email.status = SENDING  # an `exhausted` email being replayed is in flight again
        email.attempts += 1
        email.lease_until = now + settings.send_lease
        email.updated_at = now
        await tx.commit()
        return _State(attempt=email.attempts, email_id=email.id)


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
        email.not_before = None
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
    """Give the lease back after a transient failure; when the provider asked us to wait
    (Retry-After), a retry that comes sooner backs off without calling it."""
    now = clock.now()
    async with uow() as tx:
        email = await tx.emails.for_cause(cause_event_id, template)
        if email is None:
            return
        email.last_error = error[:1000]
        email.lease_until = None
        email.not_before = now + min(backoff, MAX_PROVIDER_BACKOFF) if backoff else None
        email.updated_at = now
        await tx.commit()
