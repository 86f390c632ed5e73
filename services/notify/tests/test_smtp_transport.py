"""The SMTP adapter against real relays on loopback: STARTTLS and implicit TLS with a private CA,
login, and what each refusal means for the email."""

from __future__ import annotations

import uuid
from typing import Literal

import pytest
from pydantic import SecretStr

from notify.adapters.smtp import SmtpMailer
from notify.mailer import OutgoingEmail, TransientSendError
from notify.testing import SmtpServer, smtp_settings

LOGIN = ("notify", "s3cret-relay-password")


def email(to: str = "ada@example.org") -> OutgoingEmail:
    return OutgoingEmail(
        to=to,
        from_address="Portfolio <hello@portfolio.test>",
        envelope_from="bounces@portfolio.test",
        subject="Hello",
        text="plain",
        html="<p>html</p>",
        message_id=f"<t.{uuid.uuid4()}@portfolio.test>",
    )


# aiosmtpd warns about AUTH without STARTTLS, not knowing the implicit-TLS socket is encrypted.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_encrypted_and_logged_in_relays_take_the_mail(
    security: Literal["starttls", "tls"],
) -> None:
    async with SmtpServer(security=security, credentials=LOGIN) as relay:
        outgoing = email()
        result = await SmtpMailer(smtp_settings(relay)).send(outgoing)
        mail = await relay.wait_for_mail("ada@example.org")
    assert (result.provider, result.provider_message_id) == ("smtp", outgoing.message_id)
    assert mail.envelope_from == "bounces@portfolio.test"
    assert mail.message["Message-ID"] == outgoing.message_id


async def test_a_wrong_password_is_our_misconfiguration_so_transient() -> None:
    async with SmtpServer(security="starttls", credentials=LOGIN) as relay:
        settings = smtp_settings(relay).model_copy(update={"password": SecretStr("wrong")})
        with pytest.raises(TransientSendError, match="535"):
            await SmtpMailer(settings).send(email())
        assert relay.messages == []


async def test_a_certificate_we_do_not_trust_is_refused() -> None:
    async with SmtpServer(security="tls") as relay:
        settings = smtp_settings(relay).model_copy(update={"cert_bundle": None})
        with pytest.raises(TransientSendError, match=r"(?i)certificate"):
            await SmtpMailer(settings).send(email())
        assert relay.messages == []


async def test_a_relay_that_insists_on_starttls_is_not_sent_to_in_clear() -> None:
    async with SmtpServer(security="starttls") as relay:
        settings = smtp_settings(relay).model_copy(update={"security": "none"})
        with pytest.raises(TransientSendError, match="530"):
            await SmtpMailer(settings).send(email())
        assert relay.messages == []
