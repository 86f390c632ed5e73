"""Portfolio settings: env prefix PORTFOLIO_, nested with `__` (PORTFOLIO_REDIS__URL)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from servicekit.caller import TokenSettings
from servicekit.settings import ServiceSettings


class RedisSettings(BaseModel):
    """The public-page cache; the service works (slower) while it is down."""

    url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    key_prefix: str = Field(default="portfolio", description="Keys are `<prefix>:...`.")
    page_ttl: timedelta = Field(default=timedelta(minutes=5), description="Cache-aside TTL.")
    timeout_s: float = Field(default=0.25, gt=0, description="Per command; a slow cache is down.")
    retry_after_failure_s: float = Field(
        default=5.0, ge=0, description="After a failure, the cache is skipped this long."
    )


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="PORTFOLIO_", env_nested_delimiter="__", extra="ignore"
    )

    http_port: int = 8002
    worker_port: int = 9002

    tokens: TokenSettings = Field(default_factory=TokenSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)

    retention: timedelta = Field(
        default=timedelta(days=30), description="How long a deleted portfolio can be restored."
    )
    purge_interval: timedelta = Field(
        default=timedelta(hours=1), description="How often the worker purges expired deletions."
    )
    max_items: int = Field(default=200, ge=1, description="Items a portfolio may hold.")
    page_size: int = Field(default=20, ge=1, le=100)
