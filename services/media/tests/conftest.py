"""Media's storage fixtures: the S3 adapter on a bucket of the test's own, on a real server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from devkit.s3server import S3Server
from media.adapters.s3 import S3Storage
from media.storage_settings import S3Settings
from media.testing import s3_settings_for


@pytest.fixture
def s3_settings(s3_server: S3Server, s3_bucket: str) -> S3Settings:
    return s3_settings_for(s3_server, s3_bucket)


@pytest.fixture
async def storage(s3_settings: S3Settings) -> AsyncIterator[S3Storage]:
    async with S3Storage(s3_settings) as opened:
        await opened.ensure_bucket()
        yield opened
