"""Sending, one email per event, against a real SMTP server: what arrives, and every failure."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text

from events import Delivery
from events.contracts import UserLoggedInV1, UserRegisteredV1, UserVerificationRequestedV1
from events.testing import delivery, example_event
from notify import testing
from notify.container import Container
from notify.handlers.common import EmailInProgress
from notify.mailer import TransientSendError
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
    assert mail.envelope_from == "bounces@portfolio.test", "bounces must come back to notify"
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
    backed_off = [r for r in results if isinstance(r, EmailInProgress)]
    assert len(backed_off) == 1 and results.count(None) == 1, results
    assert len(smtp.to("race@example.org")) == 1
    # The copy that backed off comes back through the retry path and only acks.
    await send(delivery(event, "notify.welcome_email", attempt=2))
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


async def test_a_concurrent_duplicate_backs_off_while_the_lease_holds(
    container: Container, smtp: SmtpServer
) -> None:
    event = example_event(UserRegisteredV1, email="lease@example.org")
    async with container.uow() as tx:
        from notify.models import Email

        now = container.clock.now()
        tx.db.add(
            Email(
                cause_event_id=event.id,
                template="welcome",
                recipient="lease@example.org",
                message_id="<m@x>",
                lease_until=now + timedelta(minutes=1),
                created_at=now,
                updated_at=now,
            )
        )
        await tx.commit()
    with pytest.raises(EmailInProgress):
        await sender(container, "welcome_email")(delivery(event, "notify.welcome_email"))
    assert smtp.messages == []


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


async def test_a_hanging_relay_is_cut_off_inside_the_lease(
    container: Container, smtp: SmtpServer
) -> None:
    container.settings.send_lease = timedelta(seconds=1)
    smtp.slow_down(3)
    event = example_event(UserRegisteredV1, email="hang@example.org")
    with pytest.raises(TransientSendError, match="half the lease"):
        await sender(container, "welcome_email")(delivery(event, "notify.welcome_email"))
    [row] = await email_rows(container)
    assert (row["status"], row["lease_until"]) == ("sending", None), "the lease is given back"
