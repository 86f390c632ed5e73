"""Media settings: env prefix MEDIA_, nested with `__` (MEDIA_S3__BUCKET, MEDIA_IMAGING__...)."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from media.imaging_pool import ImagingSettings
from media.storage_settings import MIB, S3Settings
from media.upload_stream import MULTIPART_OVERHEAD
from servicekit.caller import TokenSettings
from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="MEDIA_", env_nested_delimiter="__", extra="ignore"
    )

    http_port: int = 8003
    worker_port: int = 9003

    tokens: TokenSettings = Field(default_factory=TokenSettings)
    s3: S3Settings = Field(default_factory=S3Settings)
    imaging: ImagingSettings = Field(default_factory=ImagingSettings)

    temp_dir: Path = Field(
        default=Path(tempfile.gettempdir()) / "portfolio-media",
        description="Uploads and renders in progress; each process has its own folder in it.",
    )
    max_upload_bytes: int = Field(default=25 * MIB, ge=1, description="Through POST /media.")
    max_direct_upload_bytes: int = Field(
        default=200 * MIB, ge=1, description="Through a presigned upload straight to storage."
    )
    private_url_ttl: timedelta = Field(
        default=timedelta(minutes=10), description="Signed URLs of private portfolios' media."
    )
    public_url_ttl: timedelta = Field(
        default=timedelta(hours=6), description="Signed URLs of public and unlisted media."
    )
    retention: timedelta = Field(
        default=timedelta(days=7), description="A removed item's objects are deleted after this."
    )
    purge_interval: timedelta = timedelta(minutes=15)

    @model_validator(mode="after")
    def _body_limit_admits_uploads(self) -> Self:
        """The edge's body cap is the service-wide one; POST /media streams to disk under its own
        cap, so the edge must let a whole upload and its multipart framing through."""
        needed = self.max_upload_bytes + MULTIPART_OVERHEAD
        if self.max_body_bytes < needed:
            object.__setattr__(self, "max_body_bytes", needed)
        return self

    @model_validator(mode="after")
    def _real_credentials_outside_dev(self) -> Self:
        if self.environment != "dev" and self.s3.has_development_credentials():
            raise ValueError(
                "MEDIA_S3__ACCESS_KEY and MEDIA_S3__SECRET_KEY hold development values"
            )
        return self
