"""Media's fixtures: real image files (written once per session where they are costly), and the
S3 adapter on a bucket of the test's own, on a real server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devkit.s3server import S3Server
from media import testing
from media.adapters.s3 import S3Storage
from media.storage_settings import S3Settings
from media.testing import s3_settings_for


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
