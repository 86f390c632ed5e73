"""Object-storage settings, nested in the service's settings as MEDIA_S3__... ."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, Field, SecretStr

MIB = 1024 * 1024
MIN_PART_SIZE = 5 * MIB  # S3's floor for every part but the last
MAX_PART_SIZE = 5 * 1024 * MIB


class S3Settings(BaseModel):
    """Any S3-compatible store (AWS S3, MinIO, SeaweedFS): nothing here is server-specific.
    The defaults point at the developer's local server (`just up`)."""

    endpoint_url: str | None = Field(
        default="http://127.0.0.1:8333", description="None: AWS's own endpoint for the region."
    )
    region: str = "us-east-1"
    access_key: SecretStr = SecretStr("devkit-access-key")
    secret_key: SecretStr = SecretStr("devkit-secret-key-not-for-production")
    """Both empty: the default AWS credential chain (instance role, web identity)."""
    bucket: str = Field(default="media", min_length=3, max_length=63)
    addressing_style: Literal["path", "virtual", "auto"] = "path"

    multipart_threshold: int = Field(default=MIN_PART_SIZE, ge=MIN_PART_SIZE)
    """Files of at least this size are uploaded in parts (below it, one body held in memory)."""
    part_size: int = Field(default=8 * MIB, ge=MIN_PART_SIZE, le=MAX_PART_SIZE)
    """Raised for a file so big that it would need more than 10,000 parts."""
    upload_concurrency: int = Field(default=4, ge=1, le=32)
    """Parts in flight per upload; each is read from disk as it goes out, never held whole."""
    max_pool_connections: int = Field(default=16, ge=1)

    connect_timeout_s: float = Field(default=2.0, gt=0)
    read_timeout_s: float = Field(default=10.0, gt=0)
    """Silence allowed while waiting for bytes of an answer (not the whole transfer)."""
    max_attempts: int = Field(default=3, ge=1, le=10)
    """Tries per request, the first included (botocore's standard retry mode)."""
    min_upload_rate: int = Field(default=512 * 1024, gt=0)
    """Bytes per second below which a request body counts as stalled. aiohttp has no write
    timeout: without this bound an upload into a silent network would wait forever."""

    presign_get_expiry: timedelta = timedelta(minutes=15)
    presign_upload_expiry: timedelta = timedelta(minutes=15)

    def has_development_credentials(self) -> bool:
        """Still the local server's keys: the service refuses them outside dev."""
        defaults = type(self).model_fields
        return any(
            getattr(self, name) == defaults[name].default for name in ("access_key", "secret_key")
        )

    def outage_reported_within_s(self, body_bytes: int = 0) -> float:
        """The longest a request can take to fail when the store is unreachable or silent:
        every attempt times out, plus botocore's capped backoff between attempts."""
        per_attempt = (
            self.connect_timeout_s + self.read_timeout_s + body_bytes / self.min_upload_rate
        )
        backoff = sum(min(2.0**n, 20.0) for n in range(self.max_attempts - 1))
        return self.max_attempts * per_attempt + backoff
