"""The Debian base image: a debootstrap minbase root filesystem, cached as a tarball under var/,
imported with `docker import`. No registry is involved, only Debian's package mirror."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from devkit.images.docker import DockerError, import_tarball

SUITE = "bookworm"
MIRROR_ENV = "DEBIAN_MIRROR"
DEFAULT_MIRROR = "http://deb.debian.org/debian"

# What Debian's -slim images leave out; the overlay's dpkg excludes do the same for later installs.
_SLIM_DIRS = ("usr/share/man", "usr/share/info", "usr/share/groff", "usr/share/lintian")
# Written by debootstrap from the host or left by its run; docker provides its own at run time.
_HOST_FILES = ("etc/hostname", "etc/resolv.conf", "etc/machine-id")

CHANGES = (
    'ENV PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"',
    "ENV LANG=C.UTF-8",
    'CMD ["bash"]',
)


class RootfsError(DockerError):
    """The root filesystem could not be made (debootstrap missing or failing)."""


def tarball_path(cache_dir: Path) -> Path:
    return cache_dir / f"debian-{SUITE}-minbase.tar"


def ensure_tarball(cache_dir: Path, overlay: Path, *, refresh: bool = False) -> Path:
    """The cached rootfs tarball, made with debootstrap when missing (or when `refresh`)."""
    tarball = tarball_path(cache_dir)
    if tarball.exists() and not refresh:
        return tarball
    if shutil.which("debootstrap") is None:
        raise RootfsError(
            "debootstrap is not installed: `apt-get install -y debootstrap` (as root)"
        )
    if os.geteuid() != 0:
        raise RootfsError("debootstrap needs root to make a root filesystem")
    cache_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=cache_dir, prefix="rootfs-"))
    target = scratch / "rootfs"
    try:
        mirror = os.environ.get(MIRROR_ENV, DEFAULT_MIRROR)
        _run(["debootstrap", "--variant=minbase", SUITE, str(target), mirror])
        _configure(target, overlay)
        _upgrade(target)
        slim(target)
        partial = scratch / "rootfs.tar"
        # --numeric-owner: ids, not the host's names for them, go into the image.
        _run(["tar", "--numeric-owner", "--xattrs", "-C", str(target), "-cf", str(partial), "."])
        partial.replace(tarball)  # atomic: a tarball that exists is a whole one
    finally:
        # A debootstrap that failed midway can leave /proc or /sys mounted in the target:
        # removing the scratch directory must never walk into the host's.
        if _unmount_under(target):
            shutil.rmtree(scratch)
    return tarball


def import_base(tarball: Path, tag: str) -> None:
    import_tarball(tarball, tag, CHANGES)


def _configure(target: Path, overlay: Path) -> None:
    """Lay the overlay (apt, dpkg and policy-rc.d settings for images) over the root."""
    (target / "etc/apt/sources.list").unlink(missing_ok=True)  # replaced by debian.sources
    shutil.copytree(overlay, target, dirs_exist_ok=True, symlinks=True)


def _upgrade(target: Path) -> None:
    """Bring the point release debootstrap installed up to date with bookworm-security."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
    for step in (["apt-get", "update", "-qq"], ["apt-get", "-y", "-qq", "upgrade"]):
        _run(["chroot", str(target), *step], env=env)
    _run(["chroot", str(target), "apt-get", "clean"], env=env)


def slim(target: Path) -> None:
    """Drop what Debian's -slim images drop, and what the build host left in the root."""
    for name in _SLIM_DIRS:
        shutil.rmtree(target / name, ignore_errors=True)
    for doc in (target / "usr/share/doc").glob("*"):
        if doc.is_dir() and not doc.is_symlink():
            for item in doc.iterdir():
                if item.name != "copyright":
                    _remove(item)
    locale = target / "usr/share/locale"
    for item in locale.glob("*"):
        if item.name != "locale.alias":
            _remove(item)
    for rel in ("var/lib/apt/lists", "var/cache/apt/archives", "var/cache/debconf"):
        for item in (target / rel).glob("*"):
            if item.is_file() and not item.name.startswith("lock") and item.suffix != ".dat":
                item.unlink()
    for rel in _HOST_FILES:
        path = target / rel
        if path.exists() or path.is_symlink():
            path.unlink()
            path.touch()
    for log in (target / "var/log").rglob("*"):
        if log.is_file():
            log.write_bytes(b"")


def _mounts_under(target: Path) -> list[str]:
    prefix = str(target.resolve()) + "/"
    with open("/proc/mounts") as mounts:
        return [point for line in mounts if (point := line.split()[1]).startswith(prefix)]


def _unmount_under(target: Path) -> bool:
    """Unmount whatever is mounted below `target`; true when nothing is left."""
    for point in sorted(_mounts_under(target), key=len, reverse=True):  # the deepest first
        subprocess.run(["umount", "--lazy", point], check=False)
    return not _mounts_under(target)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _run(command: list[str], env: dict[str, str] | None = None) -> None:
    # Fixed system tools (debootstrap, chroot, tar), arguments built by this module.
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip().splitlines()[-20:]
        raise RootfsError(f"`{' '.join(command[:3])} ...` failed:\n" + "\n".join(output))
