"""Notify settings: env prefix NOTIFY_, nested with `__` (NOTIFY_SMTP__HOST)."""

from __future__ import annotations

from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network
from typing import Literal, Self

from pydantic import BaseModel, Field, IPvAnyNetwork, SecretStr, model_validator
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


LOOPBACK: tuple[IPv4Network | IPv6Network, ...] = (
    IPv4Network("127.0.0.0/8"),
    IPv6Network("::1/128"),
)


class BounceListenerSettings(BaseModel):
    """The SMTP listener that receives asynchronous bounces (DSNs); off without a port."""

    host: str = "127.0.0.1"
    port: int | None = None
    allowed_clients: list[IPvAnyNetwork] = Field(
        default_factory=lambda: list(LOOPBACK),
        description="Networks the relay mails reports from; other clients are refused.",
    )
    max_bytes: int = Field(
        default=128 * 1024,
        ge=4096,
        description="A report (with the original's headers) is a few KiB; larger is refused.",
    )
    parse_timeout_s: float = Field(default=2.0, gt=0, description="A report parsed longer fails.")


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="NOTIFY_", env_nested_delimiter="__", extra="ignore"
    )

    http_port: int = 8004
    worker_port: int = 9004
    max_body_bytes: int = 4 * 1024 * 1024  # SendGrid's webhook batches

    transport: Literal["smtp", "sendgrid"] = "smtp"
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    sendgrid: SendgridSettings = Field(default_factory=SendgridSettings)
    from_address: str = "Portfolio <hello@portfolio.example>"
    bounce_address: str = Field(
        default="bounces@portfolio.example",
        description="Each email's return path is this address tagged with the email's id and an "
        "HMAC of it (VERP: bounces+<id>.<mac>@domain), so a report names one email we sent.",
    )
    bounce_secret: SecretStr = SecretStr("dev-only-bounce-secret")
    bounce: BounceListenerSettings = Field(default_factory=BounceListenerSettings)

    verify_url_base: str = "http://localhost:3000/verify"
    reset_url_base: str = "http://localhost:3000/reset-password"
    app_url: str = "http://localhost:3000"
    unsubscribe_url_base: str = "http://localhost:3000/unsubscribe"
    unsubscribe_secret: SecretStr = SecretStr("dev-only-unsubscribe-secret")
    admin_token: SecretStr = Field(
        default=SecretStr("dev-only-admin-token"),
        description="Bearer token of the operators' routes on the ops port.",
    )
    secret_fields: tuple[str, ...] = ("unsubscribe_secret", "bounce_secret", "admin_token")

    webhook_public_key: str | None = Field(
        default=None, description="SendGrid's signed event webhook key (base64 DER)."
    )
    webhook_tolerance: timedelta = timedelta(minutes=10)
    max_concurrent_sends: int = Field(
        default=8,
        ge=1,
        le=256,
        description="Sends in flight at once per process, across queues: also the most emails "
        "a crash of the process can send twice.",
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

    @property
    def send_timeout(self) -> timedelta:
        """The whole send is cut off after the transport's timeout (each SMTP command is also
        bounded by it)."""
        timeout = self.smtp.timeout_s if self.transport == "smtp" else self.sendgrid.timeout_s
        return timedelta(seconds=timeout)

    @property
    def send_lease(self) -> timedelta:
        """How long one send owns its email: the send's deadline, and as long again to record
        the outcome. A delivery that meets a live lease waits for what is left of it."""
        return self.send_timeout * 2

    @model_validator(mode="after")
    def _bounce_address_can_carry_a_tag(self) -> Self:
        local, _, domain = self.bounce_address.partition("@")
        # The tag adds 44 characters; a local part may have 64 (RFC 5321 4.5.3.1.1).
        if not domain or not local or "+" in local or len(local) > 20:
            raise ValueError(
                "NOTIFY_BOUNCE_ADDRESS must be local@domain, with a local part of at most 20 "
                "characters and no '+' (the return path tags it)"
            )
        return self
