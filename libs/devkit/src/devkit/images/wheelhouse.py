"""A wheelhouse for building a service's image with no package index: the third-party wheels
its lock pins (hash-checked requirements) and its build backend; beside it, wheels of the
workspace packages it needs. Images are CPython 3.11 on glibc 2.36 (bookworm), x86_64."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

# Bookworm's python3 exactly: markers such as `python_full_version < '3.11.3'` (redis's
# async-timeout) hold for it, and pip judges them by this version, not the host's.
PYTHON_VERSION = "3.11.2"
STAMP = "wheelhouse.stamp"  # what the downloaded wheels were fetched for
WORKSPACE = "workspace"  # var/wheelhouse/workspace/: wheels of the workspace's own packages
# Every manylinux tag a bookworm image (glibc 2.36) runs: pip expands none of them by itself, and
# some locked wheels exist only as manylinux_2_24 or _2_28 (greenlet, argon2-cffi-bindings).
PLATFORMS = ("manylinux2014_x86_64", *(f"manylinux_2_{minor}_x86_64" for minor in range(17, 37)))
TARGET = (
    ("--only-binary", ":all:"),
    ("--python-version", PYTHON_VERSION),
    ("--implementation", "cp"),
    *(("--abi", abi) for abi in ("cp311", "abi3", "none")),
    *(("--platform", platform) for platform in PLATFORMS),
)


class WheelhouseError(RuntimeError):
    """The wheelhouse could not be made; the message says which step failed."""


def make_wheelhouse(root: Path, service: str, *, fresh: bool = False) -> Path:
    """Fill var/wheelhouse/<service>/. Downloads are redone only when what they come from (the
    exported requirements, the build backend, the platforms) changed, or when `fresh`. Wheels
    of the workspace packages go to var/wheelhouse/workspace/, rebuilt from the code each time
    (for installing a service outside an image)."""
    folder = root / "var" / "wheelhouse" / service
    members = workspace_members(root, service)
    backend = sorted(build_requires(root, members))
    requirements = for_the_image(
        _run(
            [
                *(_uv(), "export", "--frozen", "--no-dev", "--package", service),
                *("--no-emit-workspace", "--format", "requirements.txt", "--no-header", "--quiet"),
            ],
            root,
        )
    )
    stamp = hashlib.sha256(
        json.dumps([requirements, backend, PLATFORMS, PYTHON_VERSION]).encode()
    ).hexdigest()
    stamp_file = folder / STAMP
    if fresh or not stamp_file.exists() or stamp_file.read_text() != stamp:
        shutil.rmtree(folder, ignore_errors=True)  # no wheel of an older lock stays behind
        folder.mkdir(parents=True)
        (folder / "requirements.txt").write_text(requirements)
        target = [flag for pair in TARGET for flag in pair]
        _pip_download(root, folder, [*target, "--requirement", str(folder / "requirements.txt")])
        _pip_download(root, folder, [*target, *backend])
        stamp_file.write_text(stamp)  # last: an interrupted download is redone next time
    # Beside the wheelhouse, not in it: an image build copies the wheelhouse, and a wheel of
    # code that changed would invalidate its dependency layer (the image builds them from source).
    workspace = folder.parent / WORKSPACE
    for member in members:
        _run([_uv(), "build", "--wheel", "--quiet", "--out-dir", str(workspace), member], root)
    return folder


_FULL_VERSION_MARKER = re.compile(
    r"^(?P<pin>\S+==\S+) ; (?P<marker>.*python_full_version.*?)(?P<tail> \\)?$"
)


def for_the_image(requirements: str) -> str:
    """The requirements with each `python_full_version` marker that holds for the image's
    Python removed. pip download judges markers by the Python running it, not --python-version,
    so `async-timeout ; python_full_version < '3.11.3'` (needed on bookworm's 3.11.2) would be
    skipped on a newer host and then missing from the wheelhouse."""
    from packaging.markers import Marker

    environment = {"python_full_version": PYTHON_VERSION, "python_version": "3.11"}
    lines = []
    for line in requirements.splitlines():
        found = _FULL_VERSION_MARKER.match(line)
        if found and Marker(found["marker"]).evaluate(environment):
            line = found["pin"] + (found["tail"] or "")
        lines.append(line)
    return "\n".join(lines) + "\n"


def workspace_members(root: Path, service: str) -> list[str]:
    """The workspace packages `service` installs (itself included), as paths from the root."""
    exported = _run(
        [
            *(_uv(), "export", "--frozen", "--no-dev", "--package", service, "--no-hashes"),
            *("--format", "requirements.txt", "--no-header", "--no-annotate", "--quiet"),
        ],
        root,
    )
    members = [line.removeprefix("-e ").strip() for line in exported.splitlines()]
    members = [member for member in members if member.startswith("./")]
    if not members:
        raise WheelhouseError(f"{service!r} is not a package of this workspace's lock")
    return members


def build_requires(root: Path, members: list[str]) -> set[str]:
    """What pip needs to build the members from source offline (their [build-system])."""
    needed: set[str] = set()
    for member in members:
        with open(root / member / "pyproject.toml", "rb") as file:
            needed.update(tomllib.load(file).get("build-system", {}).get("requires", []))
    return needed


def download_wheels(folder: Path, pins: list[str]) -> None:
    """Wheels of `pins` (and nothing they depend on) for the images' Python, into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    target = [flag for pair in TARGET for flag in pair]
    _pip_download(folder, folder, [*target, "--no-deps", *pins])


def _pip_download(root: Path, folder: Path, args: list[str]) -> None:
    # uv has no `download`; pip (run by uv from its cache) fetches wheels for another platform.
    pip = (_uv(), "tool", "run", "--quiet", "pip", "download", "--disable-pip-version-check")
    _run([*pip, "--quiet", "--dest", str(folder), *args], root)


def _uv() -> str:
    found = shutil.which("uv")
    if found is None:
        raise WheelhouseError("uv is not on PATH (./platform installs it into .tools/bin)")
    return found


def _run(command: list[str], cwd: Path) -> str:
    # uv (found on PATH above), arguments built by this module.
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        output = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
        raise WheelhouseError(f"`{' '.join(command[:4])} ...` failed:\n{output}")
    return done.stdout
