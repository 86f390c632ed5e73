"""Auth settings: env prefix AUTH_, nested with `__` (AUTH_BUS__AMQP_URL)."""

from __future__ import annotations

from datetime import timedelta
from typing import Self

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from auth.hashing import OWASP_MINIMUMS, meets_floor
from servicekit.settings import ServiceSettings


class SigningKeyConfig(BaseModel):
    """One Ed25519 key: `python -m auth keygen` prints a new entry."""

    kid: str = Field(min_length=1, max_length=64)
    private_key_pem: SecretStr


class Settings(ServiceSettings):
    """Every knob of the service; durations accept ISO 8601 (`PT15M`) or seconds."""

    model_config = SettingsConfigDict(env_prefix="AUTH_", env_nested_delimiter="__", extra="ignore")

    http_port: int = 8001
    worker_port: int = 9001

    issuer: str = "portfolio-auth"
    audience: str = "portfolio"
    signing_keys: list[SigningKeyConfig] = Field(
        default_factory=list,
        description="JSON list; the first key signs, all are published in the JWKS.",
    )
    access_token_ttl: timedelta = timedelta(minutes=15)
    refresh_token_ttl: timedelta = timedelta(days=30)
    session_max_age: timedelta = timedelta(days=90)

    verification_ttl: timedelta = timedelta(hours=24)
    resend_min_interval: timedelta = timedelta(minutes=1)
    resend_max_per_day: int = Field(default=5, ge=1)
    unverified_account_ttl: timedelta = Field(
        default=timedelta(days=3),
        description="An account never verified is deleted after this, freeing its address.",
    )
    reset_token_ttl: timedelta = timedelta(hours=1)

    request_window: timedelta = Field(
        default=timedelta(hours=1),
        description="The window of the registration and password-reset request limits.",
    )
    requests_max_per_network: int = Field(
        default=20,
        ge=1,
        description="Registrations (and, apart, reset requests) per client network per window.",
    )
    requests_max_per_target: int = Field(
        default=3,
        ge=1,
        description="Per target address (plus-tags folded), per window: bounds the mail one "
        "inbox can be sent.",
    )

    password_min_length: int = Field(default=12, ge=12)  # ASVS 2.1.1
    password_max_length: int = Field(default=128, ge=64)
    argon2_time_cost: int = Field(default=2, ge=1, description="argon2id iterations")
    argon2_memory_cost_kib: int = Field(default=19456, ge=8, description="argon2id memory, KiB")
    argon2_parallelism: int = Field(default=1, ge=1, description="argon2id lanes")
    hash_workers: int | None = Field(
        default=None,
        ge=1,
        description="Hashes at once (threads); default one per core. Each holds "
        "AUTH_ARGON2_MEMORY_COST_KIB while it runs.",
    )
    hash_queue_budget: timedelta = Field(
        default=timedelta(seconds=1.5),
        description="A password hash that would wait longer than this for a worker is refused "
        "at once with 503 and Retry-After instead of queueing.",
    )

    login_window: timedelta = timedelta(minutes=15)
    login_max_failures_per_account: int = Field(
        default=5,
        ge=1,
        description="Failures on one account from one client network (IPv6: its /64) per window "
        "before that network is refused for that account.",
    )
    login_max_failures_per_address: int = Field(
        default=50, ge=1, description="Failures from one client network, on any account."
    )
    login_account_slow_after: int = Field(
        default=20,
        ge=1,
        description="Failures on one account from all networks in the window after which its "
        "attempts are spaced by login_account_delay (never a hard block).",
    )
    login_account_delay: timedelta = Field(default=timedelta(seconds=30))

    audit_retention: timedelta = Field(
        default=timedelta(days=90), description="How long login attempts are kept."
    )
    token_retention: timedelta = Field(
        default=timedelta(days=7),
        description="How long expired tokens and ended sessions are kept after they end.",
    )
    prune_interval: timedelta = Field(
        default=timedelta(hours=1), description="How often the worker deletes what has expired."
    )

    @model_validator(mode="after")
    def _hashing_at_or_above_owasp(self) -> Self:
        # Tests hash at argon2's cheapest so that bursts test the workflows, not the hashing.
        if self.environment != "test" and not meets_floor(
            self.argon2_memory_cost_kib, self.argon2_time_cost
        ):
            raise ValueError(
                "AUTH_ARGON2_MEMORY_COST_KIB and AUTH_ARGON2_TIME_COST are below OWASP's minimum "
                "for argon2id (19456 KiB with 2 iterations, or an equal setting: "
                f"{', '.join(f'{m} KiB x {t}' for m, t in OWASP_MINIMUMS)})"
            )
        return self

    @model_validator(mode="after")
    def _keys_outside_dev(self) -> Self:
        if self.environment != "dev" and not self.signing_keys:
            raise ValueError(
                "AUTH_SIGNING_KEYS is empty: outside dev, tokens must be signed with keys that "
                "survive a restart (generate one with `python -m auth keygen`)"
            )
        return self

    @model_validator(mode="after")
    def _unverified_accounts_outlive_their_link(self) -> Self:
        if self.unverified_account_ttl < self.verification_ttl:
            raise ValueError("AUTH_UNVERIFIED_ACCOUNT_TTL must be at least AUTH_VERIFICATION_TTL")
        return self

    @model_validator(mode="after")
    def _audit_outlives_the_throttle(self) -> Self:
        # The throttle reads the audit: pruning inside its window would forget recent failures.
        if self.audit_retention < max(self.login_window, self.request_window):
            raise ValueError(
                "AUTH_AUDIT_RETENTION must be at least AUTH_LOGIN_WINDOW and AUTH_REQUEST_WINDOW"
            )
        return self
