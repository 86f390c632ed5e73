"""The SendGrid adapter against a local server that answers as the v3 mail-send API documents."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from pydantic import SecretStr

from events.infra import free_port
from notify.adapters.sendgrid import SendgridMailer
from notify.config import SendgridSettings
from notify.mailer import OutgoingEmail, PermanentSendError, TransientSendError
from notify.testing import FakeSendgrid


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
