"""Builders media's tests (and the e2e suite) share: storage settings for a devkit S3 server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from media.storage_settings import MIB, S3Settings

if TYPE_CHECKING:
    from devkit.s3server import S3Server  # dev-only: never imported at run time here


def s3_settings_for(server: S3Server, bucket: str, **overrides: Any) -> S3Settings:
    """Settings for `bucket` on a local server, failing fast (an outage shows in seconds) and
    switching to multipart at 5 MiB so tests exercise it with small files."""
    values: dict[str, Any] = {
        "endpoint_url": server.endpoint_url,
        "region": server.region,
        "access_key": SecretStr(server.access_key),
        "secret_key": SecretStr(server.secret_key),
        "bucket": bucket,
        "multipart_threshold": 5 * MIB,
        "part_size": 5 * MIB,
        "connect_timeout_s": 1.0,
        "read_timeout_s": 2.0,
        "max_attempts": 2,
    }
    values.update(overrides)
    return S3Settings(**values)
