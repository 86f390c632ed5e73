"""Search settings: env prefix SEARCH_, nested with `__` (SEARCH_INDEX__BACKEND)."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class IndexSettings(BaseModel):
    """Where the index lives: PostgreSQL full-text search (default) or Meilisearch."""

    backend: Literal["postgres", "meilisearch"] = "postgres"
    database_url: SecretStr | None = Field(
        default=None,
        description="The PostgreSQL index's database; default: the service's own (its tables "
        "are created by the migrations). A separate URL may reach it through a proxy.",
    )
    operation_timeout_s: float = Field(default=2.0, gt=0)
    meilisearch_url: str | None = None
    meilisearch_api_key: SecretStr | None = None
    meilisearch_index: str = "portfolios"


class RateLimit(BaseModel):
    """Anonymous queries per client address: a sustained rate and a burst."""

    per_second: float = Field(default=20.0, gt=0)
    burst: int = Field(default=40, ge=1)


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="SEARCH_", env_nested_delimiter="__", extra="ignore"
    )

    http_port: int = 8005
    worker_port: int = 9005

    index: IndexSettings = Field(default_factory=IndexSettings)
    rate_limit: RateLimit = Field(default_factory=RateLimit)
    page_size: int = Field(default=20, ge=1, le=50)

    @model_validator(mode="after")
    def _meilisearch_key_outside_dev(self) -> Self:
        index = self.index
        meilisearch = self.environment != "dev" and index.backend == "meilisearch"
        if meilisearch and (not index.meilisearch_url or index.meilisearch_api_key is None):
            raise ValueError(
                "SEARCH_INDEX__MEILISEARCH_URL and SEARCH_INDEX__MEILISEARCH_API_KEY are "
                "required for the meilisearch backend outside dev"
            )
        return self
