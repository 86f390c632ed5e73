"""Asynchronous bounces: a real DSN mailed over SMTP to the return path of the email it is about,
parsed off the event loop and applied; forged, foreign, oversized and crafted reports refused."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from email.message import EmailMessage
from ipaddress import ip_network
from typing import Any

import aiosmtplib
import pytest
from sqlalchemy import text

from devkit.servers import free_port
from events.contracts import UserRegisteredV1
from events.testing import delivery, example_event
from notify import dsn, verp
from notify.bootstrap import dsn_listener
from notify.config import BounceListenerSettings
from notify.container import Container, build
from notify.testing import Received, SmtpServer, sender, settings_for, smtp_settings


async def listening_container(
    database: str, smtp: SmtpServer, **bounce: Any
) -> AsyncIterator[Container]:
    settings = settings_for(
        database,
        smtp=smtp_settings(smtp),
        bounce=BounceListenerSettings(host="127.0.0.1", port=free_port(), **bounce),
    )
    container = build(settings)
    listener = dsn_listener(container)
    assert listener is not None
    await listener.start()
    yield container
    await listener.stop()
    await container.close()


@pytest.fixture
async def listening(database: str, smtp: SmtpServer) -> AsyncIterator[Container]:
    async for container in listening_container(database, smtp):
        yield container


async def send_welcome(container: Container, smtp: SmtpServer, address: str) -> Received:
    event = example_event(UserRegisteredV1, email=address)
    await sender(container, "welcome_email")(delivery(event, "notify.welcome_email"))
    return await smtp.wait_for_mail(address)


async def mail_report(container: Container, report: Any, to: str) -> None:
    bounce = container.settings.bounce
    assert bounce.port is not None
    await aiosmtplib.send(
        report,
        sender="",
        recipients=[to],
        hostname=bounce.host,
        port=bounce.port,
        start_tls=False,
        timeout=10,
    )


async def count(container: Container, table: str) -> int:
    async with container.engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def test_each_email_has_its_own_signed_return_path(
    listening: Container, smtp: SmtpServer
) -> None:
    first = await send_welcome(listening, smtp, "one@example.org")
    second = await send_welcome(listening, smtp, "two@example.org")
    assert first.envelope_from != second.envelope_from
    assert first.envelope_from.startswith("bounces+")
    assert first.envelope_from.endswith("@portfolio.test")
    key = listening.settings.bounce_secret.get_secret_value().encode()
    async with listening.engine.connect() as conn:
        ids = set((await conn.execute(text("SELECT id FROM emails"))).scalars())
    assert verp.email_of(first.envelope_from, "bounces@portfolio.test", key) in ids
    assert verp.email_of(first.envelope_from, "bounces@portfolio.test", b"other-key") is None


async def test_a_dsn_suppresses_the_address_and_marks_the_email(
    listening: Container, smtp: SmtpServer, outbox: Any
) -> None:
    sent = await send_welcome(listening, smtp, "ghost@example.org")
    await outbox()
    report = dsn.build(
        reporting_mta="mx.example.org", original=sent.message, recipient="ghost@example.org"
    )
    await mail_report(listening, report, sent.envelope_from)
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
    await mail_report(listening, report, sent.envelope_from)  # the same report changes nothing
    assert await outbox() == []


async def test_a_report_without_the_original_counts_through_its_return_path(
    listening: Container, smtp: SmtpServer, outbox: Any
) -> None:
    sent = await send_welcome(listening, smtp, "Moved@Example.org")
    await outbox()
    report = dsn.build(
        reporting_mta="mx.example.org",
        original=sent.message,
        recipient="moved@example.org",
        include_original=False,
    )
    await mail_report(listening, report, sent.envelope_from.lower())  # relays may lower-case
    [bounced] = await outbox()
    assert (bounced.data.kind, bounced.data.recipient) == ("dsn", "Moved@Example.org")


async def test_a_delay_notice_is_not_a_bounce(
    listening: Container, smtp: SmtpServer, outbox: Any
) -> None:
    sent = await send_welcome(listening, smtp, "slow@example.org")
    await outbox()
    report = dsn.build(
        reporting_mta="mx.example.org",
        original=sent.message,
        recipient="slow@example.org",
        action="delayed",
        status="4.4.7",
    )
    await mail_report(listening, report, sent.envelope_from)
    assert await outbox() == []


@pytest.mark.parametrize(
    "to",
    [
        "bounces@portfolio.test",  # the bare address: no message named
        "bounces+aaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaa@portfolio.test",  # a forged tag
        "postmaster@portfolio.test",
    ],
)
async def test_a_report_to_an_address_we_never_signed_is_refused_at_rcpt(
    listening: Container, smtp: SmtpServer, to: str
) -> None:
    # The forged bounce of the review: a report for any address ever mailed, without the
    # original message. Nothing but a return path we signed is a valid recipient.
    await send_welcome(listening, smtp, "victim@example.org")
    forged = dsn.build(reporting_mta="mx.evil", original=_plain(), recipient="victim@example.org")
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        await mail_report(listening, forged, to)
    assert await count(listening, "suppressions") == 0


async def test_a_signed_return_path_cannot_suppress_anyone_but_its_own_recipient(
    listening: Container, smtp: SmtpServer, outbox: Any
) -> None:
    # An attacker who receives our mail knows their own return path: a report sent to it about
    # someone else suppresses nobody.
    mine = await send_welcome(listening, smtp, "attacker@example.org")
    await send_welcome(listening, smtp, "victim@example.org")
    await outbox()
    about_victim = dsn.build(
        reporting_mta="mx.evil", original=mine.message, recipient="victim@example.org"
    )
    await mail_report(listening, about_victim, mine.envelope_from)
    other_message = dsn.build(
        reporting_mta="mx.evil",
        original=_plain("<welcome.other@portfolio.test>"),
        recipient="attacker@example.org",
    )
    await mail_report(listening, other_message, mine.envelope_from)
    assert await outbox() == []
    assert await count(listening, "suppressions") == 0


async def test_a_return_path_of_an_email_never_handed_over_counts_for_nothing(
    listening: Container, outbox: Any
) -> None:
    key = listening.settings.bounce_secret.get_secret_value().encode()
    unknown = verp.return_path("bounces@portfolio.test", uuid.uuid4(), key)
    report = dsn.build(reporting_mta="mx", original=_plain(), recipient="someone@example.org")
    await mail_report(listening, report, unknown)
    assert await outbox() == []


async def test_only_the_relays_networks_may_mail_reports(database: str, smtp: SmtpServer) -> None:
    async for container in listening_container(
        database, smtp, allowed_clients=[ip_network("192.0.2.0/24")]
    ):
        sent = await send_welcome(container, smtp, "far@example.org")
        report = dsn.build(reporting_mta="mx", original=sent.message, recipient="far@example.org")
        with pytest.raises(aiosmtplib.SMTPSenderRefused, match="relay only"):
            await mail_report(container, report, sent.envelope_from)
        assert await count(container, "suppressions") == 0


async def test_a_report_past_the_size_cap_is_refused(database: str, smtp: SmtpServer) -> None:
    async for container in listening_container(database, smtp, max_bytes=8192):
        sent = await send_welcome(container, smtp, "big@example.org")
        report = dsn.build(reporting_mta="mx", original=sent.message, recipient="big@example.org")
        report.attach(_plain(body="x" * 20_000))
        with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
            await mail_report(container, report, sent.envelope_from)
        assert refused.value.code == 552
        assert await count(container, "suppressions") == 0


async def test_a_crafted_report_is_refused_quickly_and_never_blocks_the_loop(
    listening: Container, smtp: SmtpServer
) -> None:
    sent = await send_welcome(listening, smtp, "bomb@example.org")
    # Nested multiparts: the stdlib parser is superlinear on them (seconds per 100 KiB).
    nested = b"".join(
        b'--B\r\nContent-Type: multipart/mixed; boundary="B"\r\n\r\n' for _ in range(2000)
    )
    bomb = (
        b"From: MAILER-DAEMON@mx\r\nTo: x@y\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        + nested
    )
    assert len(bomb) < listening.settings.bounce.max_bytes
    ticks = 0

    async def ticking() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(ticking())
    started = time.perf_counter()
    bounce = listening.settings.bounce
    assert bounce.port is not None
    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await aiosmtplib.send(
            bomb,
            sender="mailer-daemon@mx.example.org",
            recipients=[sent.envelope_from],
            hostname=bounce.host,
            port=bounce.port,
            start_tls=False,
            timeout=10,
        )
    elapsed = time.perf_counter() - started
    ticker.cancel()
    assert refused.value.code == 554
    assert elapsed < listening.settings.bounce.parse_timeout_s + 1
    assert ticks >= elapsed / 0.01 * 0.3, "the event loop kept running while it was refused"


async def test_a_parse_that_outlives_its_time_limit_is_answered_at_the_limit(
    database: str, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def slow_parse(raw: bytes) -> dsn.DeliveryReport | None:
        time.sleep(1.5)  # stands in for a parse the structure check did not foresee
        return None

    monkeypatch.setattr(dsn, "parse_bounded", slow_parse)
    async for container in listening_container(database, smtp, parse_timeout_s=0.3):
        sent = await send_welcome(container, smtp, "slowparse@example.org")
        report = dsn.build(reporting_mta="mx", original=sent.message, recipient="x@example.org")
        started = time.perf_counter()
        with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
            await mail_report(container, report, sent.envelope_from)
        assert refused.value.code == 554
        assert time.perf_counter() - started < 1.2


def test_parse_reads_rfc3464_reports() -> None:
    report = dsn.build(
        reporting_mta="mx.example.org", original=_plain(), recipient="someone@example.org"
    )
    parsed = dsn.parse_bounded(report.as_bytes())
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


def _plain(message_id: str = "<orig@portfolio.test>", body: str = "hi") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "hello@portfolio.test"
    message["To"] = "someone@example.org"
    message["Message-ID"] = message_id
    message.set_content(body)
    return message
