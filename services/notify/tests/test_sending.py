"""Sending, one email per event, against a real SMTP server: what arrives, and every failure."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text

from events import Delivery
from events.contracts import (
    UserLoggedInV1,
    UserPasswordResetRequestedV1,
    UserRegisteredV1,
    UserSignupAttemptedV1,
    UserVerificationRequestedV1,
)
from events.testing import delivery, example_event, wait_for
from notify import testing
from notify.container import Container
from notify.mailer import TransientSendError
from notify.models import Email
from notify.testing import SmtpServer

Send = Callable[[Delivery[Any]], Awaitable[None]]


def sender(container: Container, handler: str) -> Send:
    """The handler as the consumer runs it: inside the delivery's correlation context."""
    return testing.sender(container, handler)


async def email_rows(container: Container) -> list[dict[str, Any]]:
    async with container.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM emails ORDER BY created_at"))).mappings()
        return [dict(r) for r in rows]


async def test_the_welcome_email_arrives_whole(
    container: Container, smtp: SmtpServer, outbox: Any
) -> None:
    event = example_event(UserRegisteredV1, email="ada@example.org", display_name="Ada <b>L</b>")
    await sender(container, "welcome_email")(delivery(event, "notify.welcome_email"))

    mail = await smtp.wait_for_mail("ada@example.org")
    message = mail.message
    # Bounces come back to notify, at a return path that names this email (VERP, signed).
    assert mail.envelope_from.startswith("bounces+")
    assert mail.envelope_from.endswith("@portfolio.test")
    assert message["To"] == "ada@example.org"
    assert message["From"] == "Portfolio <hello@portfolio.test>"
    assert message["Subject"] == "Welcome to Portfolio, Ada <b>L</b>"
    assert message["Message-ID"] == f"<welcome.{event.id}@portfolio.test>"
    assert message.get_content_type() == "multipart/alternative"
    assert message["List-Unsubscribe"].startswith("<http://localhost:3000/unsubscribe?email=")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Welcome, Ada <b>L</b>!" in mail.part("plain")
    assert "Welcome, Ada &lt;b&gt;L&lt;/b&gt;!" in mail.part("html"), "HTML is escaped"

    [row] = await email_rows(container)
    assert (row["status"], row["template"], row["attempts"]) == ("sent", "welcome", 1)
    assert row["cause_event_id"] == event.id
    [sent] = await outbox()
    assert sent.type == "email.sent.v1"
    assert (sent.data.user_id, sent.data.cause_event_id) == (event.data.user_id, event.id)
    assert (sent.correlationid, sent.causationid) == (event.correlationid, str(event.id))


async def test_the_verification_email_carries_the_link_and_no_unsubscribe(
    container: Container, smtp: SmtpServer
) -> None:
    token = "tok+/=en-" + "x" * 40
    event = example_event(UserVerificationRequestedV1, email="lin@example.org", token=token)
    await sender(container, "verification_email")(delivery(event, "notify.verification_email"))
    mail = await smtp.wait_for_mail("lin@example.org")
    assert "List-Unsubscribe" not in mail.message
    links = [w for w in mail.part("plain").split() if w.startswith("http://app.portfolio.test")]
    [link] = links
    assert urlsplit(link).path == "/verify"
    assert parse_qs(urlsplit(link).query)["token"] == [token]
    assert f'href="{link}"' in mail.part("html")


async def test_an_event_delivered_twice_sends_one_email(
    container: Container, smtp: SmtpServer, outbox: Any
) -> None:
    event = example_event(UserRegisteredV1, email="twice@example.org")
    send = sender(container, "welcome_email")
    await send(delivery(event, "notify.welcome_email"))
    await send(delivery(event, "notify.welcome_email", attempt=2))
    assert len(smtp.to("twice@example.org")) == 1
    assert [e.type for e in await outbox()] == ["email.sent.v1"]


async def test_two_copies_delivered_at_once_send_one_email(
    container: Container, smtp: SmtpServer, outbox: Any
) -> None:
    event = example_event(UserRegisteredV1, email="race@example.org")
    send = sender(container, "welcome_email")
    smtp.slow_down(0.3)  # the first send is still in flight when the second copy arrives
    results = await asyncio.gather(
        send(delivery(event, "notify.welcome_email")),
        send(delivery(event, "notify.welcome_email")),
        return_exceptions=True,
    )
    # The copy that met the lease waited for it (not for the retry ladder), found the email
    # sent and only acked.
    assert list(results) == [None, None], results
    assert len(smtp.to("race@example.org")) == 1
    assert [e.type for e in await outbox()] == ["email.sent.v1"]


async def test_only_the_first_login_gets_the_onboarding_email(
    container: Container, smtp: SmtpServer
) -> None:
    send = sender(container, "onboarding_email")
    later = example_event(UserLoggedInV1, email="on@example.org", first_login=False)
    await send(delivery(later, "notify.onboarding_email"))
    assert await email_rows(container) == []
    first = example_event(UserLoggedInV1, email="on@example.org", first_login=True)
    await send(delivery(first, "notify.onboarding_email"))
    mail = await smtp.wait_for_mail("on@example.org")
    assert mail.message["Subject"] == "Your first portfolio, in three steps"


async def test_a_permanent_refusal_is_recorded_and_not_retried(
    container: Container, smtp: SmtpServer, outbox: Any
) -> None:
    smtp.refuse("gone@example.org")
    event = example_event(UserRegisteredV1, email="gone@example.org")
    await sender(container, "welcome_email")(delivery(event, "notify.welcome_email"))
    assert smtp.to("gone@example.org") == []
    [row] = await email_rows(container)
    assert row["status"] == "failed"
    assert "550" in row["last_error"]
    [failed] = await outbox()
    assert (failed.type, failed.data.reason) == ("email.failed.v1", "permanent")
    assert "550" in failed.data.detail


async def test_a_transient_refusal_raises_for_the_bus_to_retry(
    container: Container, smtp: SmtpServer, outbox: Any
) -> None:
    smtp.fail_next(1)
    event = example_event(UserRegisteredV1, email="busy@example.org")
    send = sender(container, "welcome_email")
    with pytest.raises(TransientSendError, match="451"):
        await send(delivery(event, "notify.welcome_email"))
    [row] = await email_rows(container)
    assert (row["status"], row["attempts"], row["lease_until"]) == ("sending", 1, None)
    assert await outbox() == []
    await send(delivery(event, "notify.welcome_email", attempt=2))
    assert len(smtp.to("busy@example.org")) == 1
    assert (await email_rows(container))[0]["attempts"] == 2


async def test_a_stopped_server_is_a_transient_failure(
    container: Container, smtp: SmtpServer
) -> None:
    await smtp.stop()
    event = example_event(UserRegisteredV1)
    with pytest.raises(TransientSendError):
        await sender(container, "welcome_email")(delivery(event, "notify.welcome_email"))


async def test_a_suppressed_address_gets_nothing(
    container: Container, smtp: SmtpServer, outbox: Any
) -> None:
    async with container.uow() as tx:
        await tx.suppressions.add("blocked@example.org", "bounce", "550", container.clock.now())
        await tx.commit()
    event = example_event(UserRegisteredV1, email="Blocked@Example.org")
    await sender(container, "welcome_email")(delivery(event, "notify.welcome_email"))
    assert smtp.messages == []
    [failed] = await outbox()
    assert (failed.type, failed.data.reason) == ("email.failed.v1", "suppressed")
    assert (await email_rows(container))[0]["status"] == "suppressed"


async def test_a_delivery_that_meets_a_live_lease_waits_for_what_is_left_of_it(
    container: Container, smtp: SmtpServer
) -> None:
    # A worker died mid-send: its lease is still live. The redelivery waits out the rest of
    # that lease (not a minute or more of retry ladder), then sends.
    event = example_event(UserRegisteredV1, email="lease@example.org")
    left = timedelta(seconds=1.5)
    async with container.uow() as tx:
        now = container.clock.now()
        tx.db.add(
            Email(
                cause_event_id=event.id,
                template="welcome",
                recipient="lease@example.org",
                message_id=f"<welcome.{event.id}@portfolio.test>",
                status="sending",
                attempts=1,
                lease_until=now + left,
                created_at=now,
                updated_at=now,
            )
        )
        await tx.commit()
    started = time.perf_counter()
    await sender(container, "welcome_email")(delivery(event, "notify.welcome_email", attempt=1))
    waited = time.perf_counter() - started
    assert len(smtp.to("lease@example.org")) == 1
    assert left.total_seconds() - 0.1 <= waited < left.total_seconds() + 3, waited
    [row] = await email_rows(container)
    assert (row["status"], row["attempts"]) == ("sent", 2)


async def test_sends_in_flight_never_exceed_the_configured_bound(
    container: Container, smtp: SmtpServer, outbox: Any
) -> None:
    container.settings.max_concurrent_sends = 2
    container.send_slots = asyncio.Semaphore(2)
    in_flight, most = 0, 0
    real = container.mailer

    class Counting:
        name = real.name

        async def send(self, email: Any) -> Any:
            nonlocal in_flight, most
            in_flight += 1
            most = max(most, in_flight)
            try:
                return await real.send(email)
            finally:
                in_flight -= 1

        async def close(self) -> None:
            await real.close()

    container.mailer = Counting()
    smtp.slow_down(0.2)
    send = sender(container, "welcome_email")
    events = [example_event(UserRegisteredV1, email=f"many{i}@example.org") for i in range(6)]
    await asyncio.gather(*(send(delivery(e, "notify.welcome_email")) for e in events))
    assert most == 2, "the bound on sends in flight (and so on what a crash can duplicate)"
    assert all(len(smtp.to(f"many{i}@example.org")) == 1 for i in range(6))


async def test_giving_up_publishes_email_failed_once(
    container: Container, smtp: SmtpServer, outbox: Any
) -> None:
    event = example_event(UserRegisteredV1, email="down@example.org")
    give_up = testing.give_up(container, "welcome_email")
    error = TransientSendError("SMTPConnectError: connection refused")
    await give_up(delivery(event, "notify.welcome_email", attempt=6), error, "retries_exhausted")
    await give_up(delivery(event, "notify.welcome_email", attempt=6), error, "retries_exhausted")
    [failed] = await outbox()
    assert (failed.data.reason, failed.data.recipient) == ("retries_exhausted", "down@example.org")
    assert "connection refused" in failed.data.detail
    assert (await email_rows(container))[0]["status"] == "exhausted"
    # A replay while the server is still down is in flight again, and says so when it fails.
    await smtp.stop()
    with pytest.raises(TransientSendError):
        await sender(container, "welcome_email")(delivery(event, "notify.welcome_email"))
    assert (await email_rows(container))[0]["status"] == "sending"
    await give_up(delivery(event, "notify.welcome_email", attempt=6), error, "retries_exhausted")
    [again] = await outbox()
    assert again.data.reason == "retries_exhausted"
    await smtp.start()
    # The operator replays the parked message once the server is back: it is sent, once.
    replayed = delivery(event, "notify.welcome_email")
    await sender(container, "welcome_email")(replayed)
    await sender(container, "welcome_email")(replayed)
    assert len(smtp.to("down@example.org")) == 1
    assert (await email_rows(container))[0]["status"] == "sent"


async def test_a_line_break_in_a_display_name_cannot_add_headers(
    container: Container, smtp: SmtpServer
) -> None:
    event = example_event(
        UserRegisteredV1, email="eve@example.org", display_name="Eve\r\nBcc: victim@example.org"
    )
    await sender(container, "welcome_email")(delivery(event, "notify.welcome_email"))
    mail = await smtp.wait_for_mail("eve@example.org")
    assert mail.message["Subject"] == "Welcome to Portfolio, Eve Bcc: victim@example.org"
    assert "Bcc" not in mail.message
    assert mail.recipients == ["eve@example.org"]


async def test_an_unmailable_address_fails_for_good_without_asking_the_server(
    container: Container, smtp: SmtpServer, outbox: Any
) -> None:
    event = example_event(UserRegisteredV1, email="not an address")
    await sender(container, "welcome_email")(delivery(event, "notify.welcome_email"))
    assert smtp.answers == []
    [failed] = await outbox()
    assert (failed.data.reason, failed.data.recipient) == ("permanent", "not an address")
    assert "invalid recipient" in failed.data.detail
    assert (await email_rows(container))[0]["status"] == "failed"


async def test_content_refused_after_data_is_permanent(
    container: Container, smtp: SmtpServer, outbox: Any
) -> None:
    smtp.refuse_data("554 5.7.1 Message rejected as spam")
    event = example_event(UserRegisteredV1, email="filtered@example.org")
    await sender(container, "welcome_email")(delivery(event, "notify.welcome_email"))
    [failed] = await outbox()
    assert (failed.data.reason, "554" in failed.data.detail) == ("permanent", True)
    assert smtp.messages == []


async def test_a_full_mailbox_at_rcpt_is_temporary(container: Container, smtp: SmtpServer) -> None:
    # RFC 5321 4.5.3.1.10: 552 in answer to RCPT is to be treated as 452.
    smtp.refuse("full@example.org", "552 5.2.2 Mailbox full")
    event = example_event(UserRegisteredV1, email="full@example.org")
    with pytest.raises(TransientSendError, match="552"):
        await sender(container, "welcome_email")(delivery(event, "notify.welcome_email"))
    assert (await email_rows(container))[0]["status"] == "sending"


async def test_a_hanging_relay_is_cut_off_at_the_send_deadline_inside_the_lease(
    container: Container, smtp: SmtpServer
) -> None:
    container.settings.smtp.timeout_s = 1
    assert container.settings.send_lease == timedelta(seconds=2)
    smtp.slow_down(3)
    event = example_event(UserRegisteredV1, email="hang@example.org")
    with pytest.raises(TransientSendError, match="within 1s"):
        await sender(container, "welcome_email")(delivery(event, "notify.welcome_email"))
    [row] = await email_rows(container)
    assert (row["status"], row["lease_until"]) == ("sending", None), "the lease is given back"


async def test_the_owner_of_a_known_address_hears_of_a_signup_attempt(
    container: Container, smtp: SmtpServer
) -> None:
    event = example_event(UserSignupAttemptedV1, email="owner@example.org", display_name="Ada")
    await sender(container, "signup_attempt_email")(delivery(event, "notify.signup_attempt_email"))
    mail = await smtp.wait_for_mail("owner@example.org")
    assert mail.message["Subject"] == "Someone tried to sign up with your address"
    assert "Hello Ada" in mail.part("plain")
    assert "nothing was created and nothing changed" in mail.part("plain")
    assert "List-Unsubscribe" not in mail.message, "a security notice is not a newsletter"


async def test_the_password_reset_email_carries_its_link(
    container: Container, smtp: SmtpServer
) -> None:
    token = "reset+/=" + "r" * 40
    event = example_event(UserPasswordResetRequestedV1, email="forgot@example.org", token=token)
    await sender(container, "password_reset_email")(delivery(event, "notify.password_reset_email"))
    mail = await smtp.wait_for_mail("forgot@example.org")
    assert mail.message["Subject"] == "Reset your Portfolio password"
    [link] = [w for w in mail.part("plain").split() if w.startswith("http://app.portfolio.test")]
    assert urlsplit(link).path == "/reset-password"
    assert parse_qs(urlsplit(link).query)["token"] == [token]
    assert f'href="{link}"' in mail.part("html")


async def test_a_send_begun_is_recorded_even_when_its_delivery_is_cancelled(
    container: Container, smtp: SmtpServer, outbox: Any
) -> None:
    # A broker cut cancels the handlers of the channel it closes: the send they began must
    # still be recorded, so the redelivery finds it sent (no duplicate, no lease to wait out).
    event = example_event(UserRegisteredV1, email="cut@example.org")
    send = sender(container, "welcome_email")
    smtp.slow_down(0.5)
    handler = asyncio.create_task(send(delivery(event, "notify.welcome_email")))

    async def leased() -> bool:
        rows = await email_rows(container)
        return bool(rows) and rows[0]["lease_until"] is not None

    await wait_for(leased, timeout=10, message="the send began")
    handler.cancel()
    with pytest.raises(asyncio.CancelledError):
        await handler

    async def recorded() -> bool:
        return (await email_rows(container))[0]["status"] == "sent"

    await wait_for(recorded, timeout=10, message="the begun send recorded despite the cancel")
    started = time.perf_counter()
    await send(delivery(event, "notify.welcome_email", attempt=1))  # the broker's redelivery
    assert time.perf_counter() - started < 2, "no lease to wait out"
    assert len(smtp.to("cut@example.org")) == 1
    assert [e.type for e in await outbox()] == ["email.sent.v1"]
