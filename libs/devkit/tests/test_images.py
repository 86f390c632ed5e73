"""The image tooling's decisions, without an engine: build order, wheel targets, what the
wheelhouse pulls in, what a Debian root loses before it is packed, and probes that time out."""

from __future__ import annotations

from pathlib import Path

import pytest

from devkit.images.catalog import IMAGES, UnknownImage, in_build_order
from devkit.images.rootfs import slim
from devkit.images.standins import STAND_INS, NotReady, wait_ready
from devkit.images.wheelhouse import PLATFORMS, WheelhouseError, build_requires, workspace_members
from devkit.servers import free_port, repo_root


def test_an_image_comes_after_the_base_it_builds_from() -> None:
    assert [spec.name for spec in in_build_order(["postgres"])] == ["debian", "postgres"]
    everything = [spec.name for spec in in_build_order([])]
    assert sorted(everything) == sorted(IMAGES) and everything[0] == "debian"
    for position, name in enumerate(everything):
        base = IMAGES[name].base
        assert base is None or everything.index(base) < position


def test_an_unknown_image_is_refused_with_the_known_names() -> None:
    with pytest.raises(UnknownImage, match=r"mongo.*known: debian"):
        in_build_order(["postgres", "mongo"])


def test_every_stand_in_is_a_catalog_image() -> None:
    assert {stand_in.image for stand_in in STAND_INS.values()} <= {s.tag for s in IMAGES.values()}


def test_wheels_target_every_glibc_a_bookworm_image_runs_and_no_newer() -> None:
    # greenlet and argon2-cffi-bindings ship only manylinux_2_24/_2_26+ wheels for cp311.
    assert {"manylinux_2_17_x86_64", "manylinux_2_28_x86_64", "manylinux_2_36_x86_64"} <= set(
        PLATFORMS
    )
    assert "manylinux_2_37_x86_64" not in PLATFORMS


def test_the_wheelhouse_takes_the_workspace_packages_a_service_installs() -> None:
    members = workspace_members(repo_root(), "auth")
    assert members == ["./libs/events", "./libs/servicekit", "./services/auth"]
    assert build_requires(repo_root(), members) == {"hatchling"}


def test_a_package_outside_the_workspace_has_no_wheelhouse() -> None:
    with pytest.raises(WheelhouseError):
        workspace_members(repo_root(), "no-such-service")


def test_slimming_keeps_copyrights_and_apt_state_and_forgets_the_build_host(
    tmp_path: Path,
) -> None:
    files = {
        "usr/share/doc/bash/copyright": "c",
        "usr/share/doc/bash/README": "r",
        "usr/share/man/man1/bash.1": "m",
        "usr/share/locale/locale.alias": "a",
        "usr/share/locale/de/LC_MESSAGES/apt.mo": "d",
        "var/lib/apt/lists/lock": "",
        "var/lib/apt/lists/deb.debian.org_Packages": "p",
        "var/cache/debconf/config.dat": "k",
        "var/cache/debconf/config.dat-old": "o",
        "var/log/dpkg.log": "l",
        "etc/hostname": "build-host",
        "etc/resolv.conf": "nameserver 10.0.0.1",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)

    slim(tmp_path)

    left = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}
    assert left == {
        "usr/share/doc/bash/copyright",
        "usr/share/locale/locale.alias",
        "var/lib/apt/lists/lock",
        "var/cache/debconf/config.dat",
        "var/log/dpkg.log",
        "etc/hostname",
        "etc/resolv.conf",
    }
    for emptied in ("var/log/dpkg.log", "etc/hostname", "etc/resolv.conf"):
        assert (tmp_path / emptied).read_text() == ""


async def test_a_stand_in_that_never_answers_is_reported_with_its_last_error() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(NotReady, match=rf"127.0.0.1:{port}.*last: .*Error"):
        await wait_ready(STAND_INS["redis"], "127.0.0.1", port, timeout=0.3)


def test_a_python_full_version_marker_that_holds_for_bookworms_python_is_dropped() -> None:
    from devkit.images.wheelhouse import for_the_image

    exported = (
        "async-timeout==5.0.1 ; python_full_version < '3.11.3' \\\n"
        "    --hash=sha256:aa\n"
        "exceptiongroup==1.2.0 ; python_full_version < '3.11' \\\n"
        "    --hash=sha256:bb\n"
        "pywin32==306 ; sys_platform == 'win32' \\\n"
        "    --hash=sha256:cc\n"
    )
    assert for_the_image(exported).splitlines() == [
        "async-timeout==5.0.1 \\",  # needed on 3.11.2: pip must not judge it by the host's Python
        "    --hash=sha256:aa",
        "exceptiongroup==1.2.0 ; python_full_version < '3.11' \\",
        "    --hash=sha256:bb",
        "pywin32==306 ; sys_platform == 'win32' \\",
        "    --hash=sha256:cc",
    ]
