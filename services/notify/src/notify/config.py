"""Notify settings: env prefix NOTIFY_, nested with `__` (NOTIFY_SMTP__HOST)."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal, Self

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from servicekit.caller import TokenSettings
from servicekit.settings import ServiceSettings


class SmtpSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 1025
    security: Literal["none", "starttls", "tls"] = "none"
    username: str | None = None
    password: SecretStr | None = None
    timeout_s: float = Field(default=15.0, gt=0, description="Per SMTP command.")
    cert_bundle: str | None = Field(
        default=None, description="CA file for a relay whose certificate a private CA signed."
    )


class SendgridSettings(BaseModel):
    api_key: SecretStr = SecretStr("")
    base_url: str = "https://api.sendgrid.com"
    timeout_s: float = Field(default=15.0, gt=0)


class BounceListenerSettings(BaseModel):
    """The SMTP listener that receives asynchronous bounces (DSNs); off without a port."""

    host: str = "127.0.0.1"
    port: int | None = None


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="NOTIFY_", env_nested_delimiter="__", extra="ignore"
    )

    http_port: int = 8004
    worker_port: int = 9004

    transport: Literal["smtp", "sendgrid"] = "smtp"
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    sendgrid: SendgridSettings = Field(default_factory=SendgridSettings)
    from_address: str = "Portfolio <hello@portfolio.example>"
    bounce_address: str = "bounces@portfolio.example"
    bounce: BounceListenerSettings = Field(default_factory=BounceListenerSettings)

    verify_url_base: str = "http://localhost:3000/verify"
    app_url: str = "http://localhost:3000"
    unsubscribe_url_base: str = "http://localhost:3000/unsubscribe"
    unsubscribe_secret: SecretStr = SecretStr("dev-only-unsubscribe-secret")
    secret_fields: tuple[str, ...] = ("unsubscribe_secret",)

    webhook_public_key: str | None = Field(
        default=None, description="SendGrid's signed event webhook key (base64 DER)."
    )
    webhook_tolerance: timedelta = timedelta(minutes=10)
    send_lease: timedelta = Field(
        default=timedelta(minutes=2),
        description="How long a delivery owns an email it is sending before another may retry.",
    )

    tokens: TokenSettings = Field(default_factory=TokenSettings)

    @model_validator(mode="after")
    def _transport_configured(self) -> Self:
        if (
            self.environment != "dev"
            and self.transport == "sendgrid"
            and not self.sendgrid.api_key.get_secret_value()
        ):
            raise ValueError("NOTIFY_SENDGRID__API_KEY is required for the sendgrid transport")
        return self

    @model_validator(mode="after")
    def _lease_outlasts_a_send(self) -> Self:
        # A send is cut off at half the lease (so two deliveries never send at once); a lease
        # shorter than that would cut off healthy sends too.
        timeout = self.smtp.timeout_s if self.transport == "smtp" else self.sendgrid.timeout_s
        if self.send_lease.total_seconds() / 2 < timeout:
            raise ValueError(
                f"NOTIFY_SEND_LEASE ({self.send_lease}) must be at least twice the transport "
                f"timeout ({timeout}s)"
            )
        return self
