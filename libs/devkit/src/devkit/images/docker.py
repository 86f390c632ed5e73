"""The few docker CLI calls the image builds need, with errors that say what failed."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

START_ENGINE = "scripts/docker-engine.sh"


class DockerError(RuntimeError):
    """A docker command failed; the message carries its output."""


class EngineMissing(DockerError):
    """No container engine answers."""


def _env() -> dict[str, str]:
    # The classic builder: BuildKit would fetch the `# syntax=` frontend image from Docker Hub,
    # which no registry here serves; the classic builder reads that line as a comment.
    return {**os.environ, "DOCKER_BUILDKIT": "0"}


def docker(*args: str, stdin: Path | None = None, quiet: bool = True) -> str:
    """Run `docker <args>`; its output is returned (or streamed when `quiet` is false)."""
    if shutil.which("docker") is None:
        raise EngineMissing(f"no docker CLI on PATH: run `{START_ENGINE}` (as root)")
    with open(stdin, "rb") if stdin else open(os.devnull, "rb") as source:
        done = subprocess.run(
            ["docker", *args],
            stdin=source,
            stdout=subprocess.PIPE if quiet else None,
            stderr=subprocess.STDOUT if quiet else None,
            env=_env(),
            check=False,
        )
    output = done.stdout.decode(errors="replace") if done.stdout else ""
    if done.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-30:])
        raise DockerError(f"`docker {' '.join(args[:3])} ...` failed ({done.returncode}):\n{tail}")
    return output


def require_engine() -> str:
    """The engine's version and storage driver, or EngineMissing saying how to start one."""
    try:
        return docker("info", "--format", "{{.ServerVersion}} {{.Driver}}").strip()
    except DockerError as exc:
        raise EngineMissing(
            f"no container engine answers ({exc}). Start one with `{START_ENGINE}` (as root)."
        ) from None


def image_exists(ref: str) -> bool:
    return image_id(ref) is not None


def image_id(ref: str) -> str | None:
    try:
        return docker("image", "inspect", "--format", "{{.Id}}", ref).strip()
    except DockerError:
        return None


def remove_replaced(old_id: str | None, ref: str) -> None:
    """Drop the image `ref` named before a rebuild, unless something still uses it."""
    if old_id is None or old_id == image_id(ref):
        return
    with contextlib.suppress(DockerError):  # refused while a container or another tag uses it
        docker("image", "rm", old_id)


def image_size(ref: str) -> int:
    """Bytes of the image's unpacked layers, as `docker images` counts them."""
    return int(docker("image", "inspect", "--format", "{{.Size}}", ref).strip())


def build(
    context: Path,
    tags: Sequence[str],
    *,
    dockerfile: Path | None = None,
    build_args: Mapping[str, str] | None = None,
    no_cache: bool = False,
    quiet: bool = True,
    target: str | None = None,
) -> None:
    args = ["build", "--rm", "--force-rm"]
    if target is not None:
        args += ["--target", target]
    for tag in tags:
        args += ["--tag", tag]
    if dockerfile is not None:
        args += ["--file", str(dockerfile)]
    for key, value in (build_args or {}).items():
        args += ["--build-arg", f"{key}={value}"]
    if no_cache:
        args.append("--no-cache")
    docker(*args, str(context), quiet=quiet)


def import_tarball(tarball: Path, tag: str, changes: Sequence[str]) -> None:
    """`docker import` a root filesystem tarball as an image, with Dockerfile-style changes."""
    args = ["import"]
    for change in changes:
        args += ["--change", change]
    docker(*args, "-", tag, stdin=tarball)


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit in ("B", "kB") else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")
