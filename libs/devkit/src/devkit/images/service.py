"""A service's image built with no index or registry: its wheelhouse, then its own Dockerfile
FROM the local Python base (the Dockerfile's BASE_IMAGE and WHEELHOUSE build arguments)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from devkit.images import docker
from devkit.images.build import Options, build_images
from devkit.images.catalog import IMAGES
from devkit.images.wheelhouse import make_wheelhouse


def service_tag(service: str) -> str:
    return f"portfolio-{service}:dev"  # the tag compose.yaml and `just images` use


def build_stage_tag(service: str) -> str:
    return f"portfolio-{service}:build"


USERS_BASE = "python:3.11-slim"  # the Dockerfiles' default BASE_IMAGE


def services(root: Path) -> list[str]:
    """Every service with a Dockerfile, in name order."""
    return sorted(p.parent.name for p in (root / "services").glob("*/Dockerfile"))


def offline_by_default() -> bool:
    """Offline (local base, wheelhouse) where the users' base image is not in the engine and
    cannot be pulled; the Dockerfiles' own path (python:3.11-slim, uv, PyPI) where it can."""
    if docker.image_exists(USERS_BASE):
        return False
    try:
        docker.docker("pull", "--quiet", USERS_BASE)
        return False
    except docker.DockerError:
        return True


@dataclass(frozen=True)
class ServiceImage:
    """A built service image and what a deployment relies on: its size, user and healthcheck."""

    tag: str
    seconds: float
    size: int
    user: str
    healthcheck: str


def inspect_image(tag: str, seconds: float) -> ServiceImage:
    config = json.loads(docker.docker("image", "inspect", "--format", "{{json .Config}}", tag))
    health = (config.get("Healthcheck") or {}).get("Test") or []
    return ServiceImage(
        tag, seconds, docker.image_size(tag), config.get("User") or "root", " ".join(health[1:])
    )


def build_service_image(
    root: Path,
    service: str,
    *,
    verbose: bool = False,
    offline: bool = True,
    log: Callable[[str], None] = print,
) -> float:
    """Build `portfolio-<service>:dev` (offline: FROM the local base with a wheelhouse); the
    seconds the wheelhouse and build took."""
    dockerfile = root / "services" / service / "Dockerfile"
    if not dockerfile.exists():
        raise docker.DockerError(f"{dockerfile.relative_to(root)} does not exist")
    build_args: dict[str, str] = {}
    started = time.monotonic()
    if offline:
        build_images(root, ["python"], Options(), log=log)
        started = time.monotonic()
        wheelhouse = make_wheelhouse(root, service)
        log(f"wheelhouse {wheelhouse.relative_to(root)} in {time.monotonic() - started:.1f}s")
        build_args = {
            "BASE_IMAGE": IMAGES["python"].tag,
            "WHEELHOUSE": wheelhouse.relative_to(root).as_posix(),
        }
    # The `build` stage is tagged too (the classic builder keeps it untagged, as the cache of the
    # next build), so that a rebuild can drop the stage it replaces instead of leaking it.
    stages = ((build_stage_tag(service), "build"), (service_tag(service), None))
    for tag, target in stages:
        replaced = docker.image_id(tag)
        docker.build(
            root,
            [tag],
            dockerfile=dockerfile,
            build_args=build_args,
            target=target,
            quiet=not verbose,
        )
        docker.remove_replaced(replaced, tag)
    seconds = time.monotonic() - started
    size = docker.human_size(docker.image_size(service_tag(service)))
    log(f"{service_tag(service)}: built in {seconds:.1f}s ({size})")
    return seconds
