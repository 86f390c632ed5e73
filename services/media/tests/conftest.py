"""Media imaging fixtures: real image files, written once per session where they are costly."""

from __future__ import annotations

from pathlib import Path

import pytest

from media import testing


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
