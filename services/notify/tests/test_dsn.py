"""Asynchronous bounces: a real DSN mailed to the bounce address over SMTP, parsed and applied."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiosmtplib
import pytest
from sqlalchemy import text

from devkit.servers import free_port
from events.contracts import UserRegisteredV1
from events.testing import delivery, example_event
from notify import dsn
from notify.bootstrap import dsn_listener
from notify.config import BounceListenerSettings
from notify.container import Container, build
from notify.testing import SmtpServer, sender, settings_for, smtp_settings


@pytest.fixture
async def listening(database: str, smtp: SmtpServer) -> AsyncIterator[Container]:
    settings = settings_for(
        database,
        smtp=smtp_settings(smtp),
        bounce=BounceListenerSettings(host="127.0.0.1", port=free_port()),
    )
    container = build(settings)
    listener = dsn_listener(container)
    assert listener is not None
    await listener.start()
    yield container
    await listener.stop()
    await container.close()


async def send_welcome(container: Container, smtp: SmtpServer, address: str) -> Any:
    event = example_event(UserRegisteredV1, email=address)
    await sender(container, "welcome_email")(delivery(event, "notify.welcome_email"))
    return (await smtp.wait_for_mail(address)).message


async def mail_report(container: Container, report: Any, to: str | None = None) -> None:
    bounce = container.settings.bounce
    assert bounce.port is not None
    await aiosmtplib.send(
        report,
        sender="",
        recipients=[to or container.settings.bounce_address],
        hostname=bounce.host,
        port=bounce.port,
        start_tls=False,
        timeout=10,
    )


async def test_a_dsn_suppresses_the_address_and_marks_the_email(
    listening: Container, smtp: SmtpServer, outbox: Any
) -> None:
    original = await send_welcome(listening, smtp, "ghost@example.org")
    await outbox()
    report = dsn.build(
        reporting_mta="mx.example.org", original=original, recipient="ghost@example.org"
    )
    await mail_report(listening, report)
    [bounced] = await outbox()
    assert (bounced.type, bounced.data.kind, bounced.data.recipient) == (
        "email.bounced.v1",
        "dsn",
        "ghost@example.org",
    )
    assert "5.1.1" in bounced.data.reason
    async with listening.engine.connect() as conn:
        status = (await conn.execute(text("SELECT status FROM emails"))).scalar_one()
        suppressed = (await conn.execute(text("SELECT reason FROM suppressions"))).scalar_one()
    assert (status, suppressed) == ("bounced", "dsn")
    await mail_report(listening, report)  # the same report again changes nothing
    assert await outbox() == []


async def test_a_delay_notice_is_not_a_bounce(
    listening: Container, smtp: SmtpServer, outbox: Any
) -> None:
    original = await send_welcome(listening, smtp, "slow@example.org")
    await outbox()
    report = dsn.build(
        reporting_mta="mx.example.org",
        original=original,
        recipient="slow@example.org",
        action="delayed",
        status="4.4.7",
    )
    await mail_report(listening, report)
    assert await outbox() == []


async def test_a_report_about_mail_we_never_sent_suppresses_nobody(
    listening: Container, smtp: SmtpServer, outbox: Any
) -> None:
    # Anyone can mail the bounce address: a forged report must not suppress a real customer.
    forged = dsn.build(reporting_mta="mx.evil", original=_plain(), recipient="victim@example.org")
    await mail_report(listening, forged)
    unreferenced = dsn.build(
        reporting_mta="mx.evil",
        original=_plain("<another@portfolio.test>"),
        recipient="victim@example.org",
        include_original=False,
    )
    await mail_report(listening, unreferenced)
    assert await outbox() == []
    async with listening.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM suppressions"))).scalar_one() == 0
        seen = (await conn.execute(text("SELECT count(*) FROM provider_events"))).scalar_one()
    assert seen == 2, "both reports were read (and refused), not dropped as duplicates"


async def test_a_report_without_the_original_counts_for_an_address_we_mailed(
    listening: Container, smtp: SmtpServer, outbox: Any
) -> None:
    original = await send_welcome(listening, smtp, "Moved@Example.org")
    await outbox()
    report = dsn.build(
        reporting_mta="mx.example.org",
        original=original,
        recipient="moved@example.org",
        include_original=False,
    )
    await mail_report(listening, report)
    [bounced] = await outbox()
    assert (bounced.data.kind, bounced.data.recipient) == ("dsn", "moved@example.org")


async def test_the_listener_only_accepts_the_bounce_address(listening: Container) -> None:
    message = dsn.build(reporting_mta="mx", original=_plain(), recipient="a@example.org")
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        await mail_report(listening, message, to="postmaster@portfolio.test")


def test_parse_reads_rfc3464_reports() -> None:
    report = dsn.build(
        reporting_mta="mx.example.org", original=_plain(), recipient="someone@example.org"
    )
    parsed = dsn.parse(report.as_bytes())
    assert parsed is not None
    [recipient] = parsed.recipients
    assert (recipient.address, recipient.action, recipient.status) == (
        "someone@example.org",
        "failed",
        "5.1.1",
    )
    assert recipient.permanent_failure
    assert parsed.original_message_id == "<orig@portfolio.test>"
    assert dsn.parse(_plain().as_bytes()) is None


def _plain(message_id: str = "<orig@portfolio.test>") -> Any:
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = "hello@portfolio.test"
    message["To"] = "someone@example.org"
    message["Message-ID"] = message_id
    message.set_content("hi")
    return message
