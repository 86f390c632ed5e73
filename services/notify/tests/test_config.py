"""Settings from the environment, and the configurations refused before anything starts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from notify.config import Settings


def test_settings_come_from_notify_variables_nested_with_double_underscores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "NOTIFY_TRANSPORT": "smtp",
        "NOTIFY_SMTP__HOST": "relay.internal",
        "NOTIFY_SMTP__PORT": "587",
        "NOTIFY_SMTP__SECURITY": "starttls",
        "NOTIFY_SMTP__PASSWORD": "pw",
        "NOTIFY_BOUNCE__PORT": "2525",
        "NOTIFY_BUS__RETRY_TIME_SCALE": "0.001",
        "NOTIFY_VERIFY_URL_BASE": "https://app.example/verify",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert (settings.smtp.host, settings.smtp.port, settings.smtp.security) == (
        "relay.internal",
        587,
        "starttls",
    )
    assert settings.smtp.password is not None and "pw" not in repr(settings)
    assert (settings.bounce.port, settings.bus.retry_time_scale) == (2525, 0.001)
    assert (settings.http_port, settings.worker_port) == (8004, 9004)


SECRETS: dict[str, Any] = {
    "unsubscribe_secret": "u-secret",
    "bounce_secret": "b-secret",
    "admin_token": "a-tok",
}


@pytest.mark.parametrize("secret", sorted(SECRETS))
def test_outside_dev_each_development_secret_is_refused(secret: str) -> None:
    with pytest.raises(ValidationError, match=secret):
        Settings(environment="prod", **{**SECRETS, secret: Settings.model_fields[secret].default})
    Settings(environment="prod", **SECRETS)


def test_the_sendgrid_transport_needs_its_api_key_outside_dev() -> None:
    with pytest.raises(ValidationError, match="NOTIFY_SENDGRID__API_KEY"):
        Settings(environment="prod", transport="sendgrid", **SECRETS)


def test_a_lease_covers_one_send_and_follows_the_transport_timeout() -> None:
    smtp = Settings(smtp={"timeout_s": 7})
    assert smtp.send_timeout == timedelta(seconds=7)
    assert smtp.send_lease == timedelta(seconds=14), "the send, and as long again to record it"
    sendgrid = Settings(transport="sendgrid", sendgrid={"timeout_s": 3})
    assert sendgrid.send_lease == timedelta(seconds=6)
    assert Settings().max_concurrent_sends == 8, "the documented bound on duplicates"


@pytest.mark.parametrize(
    "address", ["bounces", "a+b@portfolio.example", "a-very-long-bounce-local-part@x.example"]
)
def test_a_bounce_address_that_cannot_carry_a_return_path_tag_is_refused(address: str) -> None:
    with pytest.raises(ValidationError, match="NOTIFY_BOUNCE_ADDRESS"):
        Settings(bounce_address=address)
