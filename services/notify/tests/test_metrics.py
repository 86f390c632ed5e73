"""Notify's send metrics move by exactly what happened against a real SMTP server (bounces are
counted in test_webhook.py, beside the webhook that reports them)."""

from __future__ import annotations

import pytest

from events.contracts import UserRegisteredV1
from events.testing import delivery, example_event, scrape_registry
from notify import testing
from notify.container import Container
from notify.mailer import TransientSendError
from notify.testing import SmtpServer

EMAILS = "notify_emails_total"


async def test_sends_are_counted_by_transport_and_outcome(
    container: Container, smtp: SmtpServer
) -> None:
    send = testing.sender(container, "welcome_email")
    before = scrape_registry()
    await send(delivery(example_event(UserRegisteredV1), "notify.welcome_email"))
    smtp.refuse("gone@example.org")
    await send(
        delivery(example_event(UserRegisteredV1, email="gone@example.org"), "notify.welcome_email")
    )
    smtp.fail_next(1)
    busy = example_event(UserRegisteredV1, email="busy@example.org")
    with pytest.raises(TransientSendError):
        await send(delivery(busy, "notify.welcome_email"))
    await send(delivery(busy, "notify.welcome_email", attempt=2))
    await send(delivery(busy, "notify.welcome_email", attempt=3))  # sent already: nothing
    after = scrape_registry()
    moved = {
        outcome: after.total(EMAILS, transport="smtp", outcome=outcome)
        - before.total(EMAILS, transport="smtp", outcome=outcome)
        for outcome in ("sent", "rejected", "transient_error", "timeout")
    }
    assert moved == {"sent": 2, "rejected": 1, "transient_error": 1, "timeout": 0}
