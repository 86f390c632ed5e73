"""A real S3 server on loopback (SeaweedFS), for tests, e2e runs and a developer's `just up`.

It checks signatures and expiry against its own identities file, so presigned URLs are tested
for real. Outage tests stop it and bring it back on the same ports with the same data.

    python -m devkit.s3cli --port 8333 --dir var/s3
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import httpx
from botocore.exceptions import BotoCoreError, ClientError

from devkit import s3admin
from devkit.servers import port_open
from devkit.weed import (
    S3ServerError,
    WeedPorts,
    command,
    die_with_parent,
    identities,
    stale_sockets,
    weed_binary,
)

__all__ = ["DEFAULT_ACCESS_KEY", "DEFAULT_SECRET_KEY", "S3Server", "S3ServerError"]

DEFAULT_ACCESS_KEY = "devkit-access-key"
DEFAULT_SECRET_KEY = "devkit-secret-key-not-for-production"  # noqa: S105 - loopback dev server


class S3Server:
    """One `weed server` process with its own ports, data directory and credentials."""

    def __init__(
        self,
        root: Path | None = None,
        *,
        ports: WeedPorts | None = None,
        access_key: str = DEFAULT_ACCESS_KEY,
        secret_key: str = DEFAULT_SECRET_KEY,
        region: str = "us-east-1",
        startup_timeout_s: float = 60.0,
        stop_grace_s: float = 1.0,
    ) -> None:
        self._owns_root = root is None
        self.root = Path(root or tempfile.mkdtemp(prefix="devkit-s3-")).resolve()
        self.ports = ports or WeedPorts.free()
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.startup_timeout_s = startup_timeout_s
        self.stop_grace_s = stop_grace_s
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        return self.ports.s3

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "weed.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Start weed and return once S3 answers signed requests and a volume server is up."""
        if self._spawn():
            self._ready_or_stop()
        return self

    def _spawn(self) -> bool:
        if self.running:
            return False
        busy = [p for p in self.ports.all() if port_open("127.0.0.1", p, timeout=0.2)]
        if busy:
            raise S3ServerError(
                f"ports {busy} on 127.0.0.1 are already in use: another weed server "
                f"(`just down` stops the developer's) or another program holds them"
            )
        binary = weed_binary()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.root / "identities.json"
        config.write_text(identities(self.access_key, self.secret_key))
        config.chmod(0o600)
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            command(binary, self.data_dir, config, self.ports),
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C meant for pytest does not reach weed first
            preexec_fn=die_with_parent(),
        )
        return True

    def _ready_or_stop(self) -> None:
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Terminate weed (killed after the grace period); its ports refuse connections after."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                # weed's filer waits 15 s for its gRPC streams; everything acknowledged is
                # already on disk, so a kill after a short grace loses nothing.
                process.wait(self.stop_grace_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        for sock in stale_sockets(self.ports):
            sock.unlink(missing_ok=True)

    def restart(self) -> Self:
        """Stop and start again on the same ports and the same data."""
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop, and remove the data if this server made its own directory."""
        self.stop()
        if self._owns_root:
            shutil.rmtree(self.root, ignore_errors=True)

    async def astart(self) -> Self:
        # Spawned from this (long-lived) thread: weed dies with the thread that started it.
        if self._spawn():
            await asyncio.to_thread(self._ready_or_stop)
        return self

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)

    async def arestart(self) -> Self:
        await self.astop()
        return await self.astart()

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        s3 = self.client(connect_timeout_s=1.0, read_timeout_s=2.0)
        last = "nothing answered yet"
        while True:
            assert self._process is not None
            if (code := self._process.poll()) is not None:
                raise S3ServerError(
                    f"weed exited with code {code} while starting. Log tail "
                    f"({self.log_path}):\n{self.log_tail()}"
                )
            try:
                s3.list_buckets()  # the S3 gateway, the filer behind it, our identity
                status = httpx.get(f"http://127.0.0.1:{self.ports.master}/dir/status", timeout=2)
                if not _has_volume_server(status.json()):
                    raise S3ServerError("no volume server has joined the master yet")
                return
            except (BotoCoreError, ClientError, httpx.HTTPError, ValueError, S3ServerError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            if time.monotonic() > deadline:
                raise S3ServerError(
                    f"S3 did not become ready on {self.endpoint_url} within "
                    f"{self.startup_timeout_s}s ({last}). Log tail ({self.log_path}):\n"
                    f"{self.log_tail()}"
                )
            time.sleep(0.1)

    # -- what tests and scripts do with it ---------------------------------------------------

    def client(self, *, connect_timeout_s: float = 5.0, read_timeout_s: float = 30.0) -> Any:
        """A synchronous boto3 S3 client signed with this server's identity."""
        return s3admin.client(
            self.endpoint_url,
            self.access_key,
            self.secret_key,
            self.region,
            connect_timeout_s=connect_timeout_s,
            read_timeout_s=read_timeout_s,
        )

    def create_bucket(self, name: str) -> None:
        s3admin.create_bucket(self.client(), name)

    def delete_bucket(self, name: str) -> None:
        """Remove the bucket with every object and unfinished upload in it; absent is fine."""
        s3admin.delete_bucket(self.client(), name)

    def bucket_exists(self, name: str) -> bool:
        return s3admin.bucket_exists(self.client(), name)


def _has_volume_server(status: dict[str, Any]) -> bool:
    centers = status.get("Topology", {}).get("DataCenters") or []
    return any(rack.get("DataNodes") for dc in centers for rack in dc.get("Racks") or [])
