"""The settings every service has; each service subclasses it with its own env prefix."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from events.settings import BusSettings
from servicekit.hardening import DEFAULT_MAX_BODY

Environment = Literal["dev", "test", "prod"]


class ServiceSettings(BaseSettings):
    """Common settings; secrets listed in `secret_fields` may keep their defaults only in dev."""

    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="ignore")

    environment: Environment = "dev"
    log_level: str = "INFO"
    log_json: bool = True
    sentry_dsn: SecretStr | None = None
    release: str | None = None
    sentry_traces_sample_rate: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Share of requests traced (each traced request's handlers follow it).",
    )
    database_url: SecretStr = SecretStr("postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    db_pool_size: int = Field(default=10, ge=1)
    bus: BusSettings = Field(default_factory=BusSettings)
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    worker_port: int = Field(
        default=9000,
        ge=0,
        le=65535,
        description="The worker's ops port: health, readiness, metrics and admin routes.",
    )
    admin_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="The api role's ops port (metrics, health, admin routes), never published; "
        "worker_port + 100 when unset.",
    )
    max_body_bytes: int = Field(
        default=DEFAULT_MAX_BODY, ge=1024, description="Request bodies past this are refused (413)."
    )

    secret_fields: tuple[str, ...] = ()
    """Names of fields whose defaults are development values, refused outside dev."""

    @property
    def ops_port(self) -> int:
        """Where the api role serves its ops app (the worker serves its own on worker_port)."""
        return self.admin_port if self.admin_port is not None else self.worker_port + 100

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Self:
        if self.environment == "dev":
            return self
        defaults = type(self).model_fields
        offending = [
            name
            for name in self.secret_fields
            if getattr(self, name) == defaults[name].get_default(call_default_factory=True)
        ]
        if offending:
            raise ValueError(
                f"{', '.join(offending)} still hold development defaults; set them for "
                f"{self.environment}"
            )
        return self
