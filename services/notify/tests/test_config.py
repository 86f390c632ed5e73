"""Settings from the environment, and the configurations refused before anything starts."""

from __future__ import annotations

from datetime import timedelta

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


def test_outside_dev_the_development_unsubscribe_secret_is_refused() -> None:
    with pytest.raises(ValidationError, match="unsubscribe_secret"):
        Settings(environment="prod")
    Settings(environment="prod", unsubscribe_secret="a-real-secret")


def test_the_sendgrid_transport_needs_its_api_key_outside_dev() -> None:
    with pytest.raises(ValidationError, match="NOTIFY_SENDGRID__API_KEY"):
        Settings(environment="prod", unsubscribe_secret="s", transport="sendgrid")


def test_a_lease_shorter_than_two_transport_timeouts_is_refused() -> None:
    with pytest.raises(ValidationError, match="NOTIFY_SEND_LEASE"):
        Settings(send_lease=timedelta(seconds=20))
    Settings(send_lease=timedelta(seconds=30))
