"""Build the local images in order, each FROM the local base, and measure what each took."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from devkit.images import docker, rootfs
from devkit.images.catalog import IMAGES, ImageSpec, in_build_order


@dataclass(frozen=True)
class Built:
    """What happened to one image: `built`, `imported` or `kept` (present, not forced)."""

    spec: ImageSpec
    action: str
    seconds: float
    size: int


@dataclass(frozen=True)
class Options:
    force: bool = False  # re-import the Debian base even when it exists (from the cached tarball)
    refresh_rootfs: bool = False  # run debootstrap again instead of using the cached tarball
    no_cache: bool = False  # docker build without its layer cache
    verbose: bool = False  # stream docker's build output


def build_images(
    root: Path, names: list[str], options: Options, log: Callable[[str], None] = print
) -> list[Built]:
    """Build `names` (all when empty) and the bases they need; the engine must answer."""
    log(f"engine: {docker.require_engine()}")
    results = []
    for spec in in_build_order(names):
        started = time.monotonic()
        replaced = docker.image_id(spec.tag)
        if spec.base is None:
            action = _base(root, spec, options, log)
        else:
            log(f"{spec.tag}: building")
            _build(root, spec, options)
            action = "built"
        seconds = time.monotonic() - started
        docker.remove_replaced(replaced, spec.tag)  # rebuilds leave no untagged images behind
        result = Built(spec, action, seconds, docker.image_size(spec.tag))
        log(f"{spec.tag}: {action} in {seconds:.1f}s ({docker.human_size(result.size)})")
        results.append(result)
    return results


def _base(root: Path, spec: ImageSpec, options: Options, log: Callable[[str], None]) -> str:
    wanted = options.force or options.refresh_rootfs
    if docker.image_exists(spec.tag) and not wanted:
        return "kept"
    cache = root / "var" / "images"
    if options.refresh_rootfs or not rootfs.tarball_path(cache).exists():
        log(f"{spec.tag}: debootstrap {rootfs.SUITE} minbase (cached under {cache})")
    tarball = rootfs.ensure_tarball(
        cache, root / "images" / spec.name / "rootfs", refresh=options.refresh_rootfs
    )
    rootfs.import_base(tarball, spec.tag)
    return "imported"


def _build(root: Path, spec: ImageSpec, options: Options) -> None:
    context = root / "images" / spec.name
    if spec.stage is not None:
        # The image needs files the repository does not hold: build from a copy beside them.
        staged = root / "var" / "images" / "context" / spec.name
        shutil.rmtree(staged, ignore_errors=True)
        shutil.copytree(context, staged)
        spec.stage(staged)
        context = staged
    assert spec.base is not None
    docker.build(
        context,
        spec.tags,
        build_args={"BASE_IMAGE": IMAGES[spec.base].tag},
        no_cache=options.no_cache,
        quiet=not options.verbose,
    )
