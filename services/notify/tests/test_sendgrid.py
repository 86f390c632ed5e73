"""The SendGrid adapter against a local server that answers as the v3 mail-send API documents."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from devkit.servers import free_port
from events.contracts import UserRegisteredV1
from events.testing import delivery, drain_outbox, example_event
from notify.adapters.sendgrid import SendgridMailer, retry_after
from notify.config import SendgridSettings
from notify.container import Container, build
from notify.handlers.common import EmailInProgress
from notify.mailer import OutgoingEmail, PermanentSendError, TransientSendError
from notify.testing import FakeSendgrid, sender, settings_for
from servicekit.clock import FrozenClock


@pytest.fixture
def api() -> Iterator[FakeSendgrid]:
    with FakeSendgrid(api_key="SG.right") as api:
        yield api


@pytest.fixture
async def mailer(api: FakeSendgrid) -> AsyncIterator[SendgridMailer]:
    mailer = SendgridMailer(
        SendgridSettings(api_key=SecretStr("SG.right"), base_url=api.base_url, timeout_s=5)
    )
    yield mailer
    await mailer.close()


def email(**overrides: str) -> OutgoingEmail:
    values = {
        "to": "Ada Lovelace <ada@example.org>",
        "from_address": "Portfolio <hello@portfolio.test>",
        "envelope_from": "bounces@portfolio.test",
        "subject": "Welcome",
        "text": "plain",
        "html": "<p>html</p>",
        "message_id": f"<welcome.{uuid.uuid4()}@portfolio.test>",
        **overrides,
    }
    return OutgoingEmail(**values, headers={"List-Unsubscribe": "<https://x/u>"})


async def test_202_is_sent_with_the_providers_message_id(
    mailer: SendgridMailer, api: FakeSendgrid
) -> None:
    outgoing = email()
    result = await mailer.send(outgoing)
    assert (result.provider, result.provider_message_id) == ("sendgrid", "sg1x")
    [request] = api.requests
    assert request["personalizations"] == [
        {"to": [{"email": "ada@example.org", "name": "Ada Lovelace"}]}
    ]
    assert request["from"] == {"email": "hello@portfolio.test", "name": "Portfolio"}
    assert [c["type"] for c in request["content"]] == ["text/plain", "text/html"]
    assert request["headers"]["Message-ID"] == outgoing.message_id
    assert request["headers"]["List-Unsubscribe"] == "<https://x/u>"


async def test_400_is_permanent_and_says_why(mailer: SendgridMailer, api: FakeSendgrid) -> None:
    api.respond_next(400, errors=["Does not contain a valid address."])
    with pytest.raises(PermanentSendError, match="valid address"):
        await mailer.send(email())
    with pytest.raises(PermanentSendError, match="subject is required"):
        await mailer.send(email(subject=""))


async def test_429_is_transient_and_keeps_retry_after(
    mailer: SendgridMailer, api: FakeSendgrid
) -> None:
    api.respond_next(429, headers={"Retry-After": "30"}, errors=["too many requests"])
    with pytest.raises(TransientSendError, match="retry after 30s"):
        await mailer.send(email())


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_is_transient(mailer: SendgridMailer, api: FakeSendgrid, status: int) -> None:
    api.respond_next(status, errors=["upstream trouble"])
    with pytest.raises(TransientSendError, match=str(status)):
        await mailer.send(email())


async def test_a_wrong_key_is_our_misconfiguration_so_transient(api: FakeSendgrid) -> None:
    wrong = SendgridMailer(SendgridSettings(api_key=SecretStr("SG.wrong"), base_url=api.base_url))
    with pytest.raises(TransientSendError, match="API key"):
        await wrong.send(email())
    await wrong.close()
    assert api.requests == []


async def test_an_unreachable_api_is_transient() -> None:
    gone = SendgridMailer(
        SendgridSettings(api_key=SecretStr("k"), base_url=f"http://127.0.0.1:{free_port()}")
    )
    with pytest.raises(TransientSendError, match="unreachable"):
        await gone.send(email())
    await gone.close()


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert retry_after("30") == timedelta(seconds=30)
    assert retry_after("Thu, 26 Nov 2026 12:02:00 GMT", now) == timedelta(minutes=2)
    assert retry_after("Thu, 26 Nov 2026 11:00:00 GMT", now) == timedelta(0)
    assert retry_after("soon") is None
    assert retry_after(None) is None


# --- the handler on the SendGrid transport ----------------------------------------------------


@pytest.fixture
async def on_sendgrid(database: str, api: FakeSendgrid) -> AsyncIterator[Container]:
    settings = settings_for(
        database,
        transport="sendgrid",
        sendgrid=SendgridSettings(api_key=SecretStr("SG.right"), base_url=api.base_url),
    )
    container = build(settings, clock=FrozenClock())
    yield container
    await container.close()


async def send_welcome(container: Container, d: Any) -> None:
    await sender(container, "welcome_email")(d)


async def test_a_rate_limit_is_waited_out_before_the_api_is_asked_again(
    on_sendgrid: Container, api: FakeSendgrid
) -> None:
    clock = on_sendgrid.clock
    assert isinstance(clock, FrozenClock)
    api.respond_next(429, headers={"Retry-After": "30"}, errors=["too many requests"])
    d = delivery(example_event(UserRegisteredV1, email="rl@example.org"), "notify.welcome_email")
    with pytest.raises(TransientSendError, match="retry after 30s"):
        await send_welcome(on_sendgrid, d)
    # The bus's immediate retry comes back at once: it backs off without a request.
    with pytest.raises(EmailInProgress, match="rate limit"):
        await send_welcome(on_sendgrid, d)
    assert len(api.requests) == 1
    clock.advance(timedelta(seconds=31))
    await send_welcome(on_sendgrid, d)
    assert len(api.requests) == 2
    [sent] = await drain_outbox(on_sendgrid.engine)
    assert (sent.type, sent.data.provider, sent.data.provider_message_id) == (
        "email.sent.v1",
        "sendgrid",
        "sg2x",
    )


async def test_a_400_fails_the_email_for_good_with_the_apis_reason(
    on_sendgrid: Container, api: FakeSendgrid
) -> None:
    api.respond_next(400, errors=["Does not contain a valid address."])
    d = delivery(example_event(UserRegisteredV1, email="bad@example.org"), "notify.welcome_email")
    await send_welcome(on_sendgrid, d)
    await send_welcome(on_sendgrid, d)  # redelivered: the refusal is final, no second request
    assert len(api.requests) == 1
    [failed] = await drain_outbox(on_sendgrid.engine)
    assert (failed.type, failed.data.reason) == ("email.failed.v1", "permanent")
    assert "valid address" in failed.data.detail
