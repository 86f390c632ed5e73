"""Media's fixtures: real image files (written once per session where they are costly), and the
S3 adapter on a bucket of the test's own, on a real server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from devkit.s3server import S3Server
from media import testing
from media.adapters.s3 import S3Storage
from media.bootstrap import SERVICE
from media.config import Settings
from media.container import Container, build
from media.storage_settings import S3Settings
from media.testing import s3_settings_for, settings_for
from servicekit.testing import Outbox, TokenIssuer, api_client, migrate


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("samples")


@pytest.fixture(scope="session")
def camera_jpeg(samples: Path) -> Path:
    """12 MP, stored landscape with EXIF orientation 6 (shown portrait), GPS, XMP, ICC, comment."""
    return testing.write_jpeg(samples / "camera.jpg", (4000, 3000), orientation=6, gps=True)


@pytest.fixture(scope="session")
def alpha_png(samples: Path) -> Path:
    return testing.write_png_alpha(samples / "alpha.png", (1200, 900))


@pytest.fixture(scope="session")
def animated_gif(samples: Path) -> Path:
    return testing.write_animated_gif(samples / "animated.gif", (900, 600), frames=4)


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "out"
    directory.mkdir()
    return directory


@pytest.fixture
def s3_settings(s3_server: S3Server, s3_bucket: str) -> S3Settings:
    return s3_settings_for(s3_server, s3_bucket)


@pytest.fixture
async def storage(s3_settings: S3Settings) -> AsyncIterator[S3Storage]:
    async with S3Storage(s3_settings) as opened:
        await opened.ensure_bucket()
        yield opened


@pytest.fixture
async def database(fresh_database: str) -> str:
    return await migrate(SERVICE, fresh_database)


@pytest.fixture
def issuer() -> TokenIssuer:
    return TokenIssuer()


@pytest.fixture
def settings(database: str, s3_settings: S3Settings, tmp_path: Path) -> Settings:
    return settings_for(database, s3_settings, temp_dir=tmp_path / "media-tmp")


@pytest.fixture
async def container(settings: Settings, issuer: TokenIssuer) -> AsyncIterator[Container]:
    container = build(settings)
    await container.verifier.close()
    container.verifier = issuer.verifier()
    await container.storage.ensure_bucket()
    try:
        yield container
    finally:
        await container.close()
    assert container.temp.in_use() == [], "every case leaves the temp folder empty"


@pytest.fixture
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(SERVICE, container) as client:
        yield client


@pytest.fixture
def outbox(database: str) -> Outbox:
    return Outbox(database)


@pytest.fixture
def stored_keys(s3_server: S3Server, s3_settings: S3Settings) -> Callable[[], list[str]]:
    """Every key in the test's bucket, listed with devkit's own client."""

    def keys() -> list[str]:
        bucket = s3_settings.bucket
        if not s3_server.bucket_exists(bucket):
            return []
        answer = s3_server.client().list_objects_v2(Bucket=bucket)
        return [entry["Key"] for entry in answer.get("Contents", [])]

    return keys
