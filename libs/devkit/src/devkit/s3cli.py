"""Run one S3 server in the foreground for a developer (`just up`), on a fixed S3 port.

    python -m devkit.s3cli --port 8333 --dir var/s3 [--bucket media]

Credentials come from DEVKIT_S3_ACCESS_KEY / DEVKIT_S3_SECRET_KEY (development defaults
otherwise). The internal ports are kept in <dir>/ports.json and reused while they are free.
"""

from __future__ import annotations

import argparse
import os
import signal
import time
from pathlib import Path

from devkit.s3server import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, S3Server, S3ServerError
from devkit.servers import port_open
from devkit.weed import WeedPorts


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run one server in the foreground for a developer, on a fixed S3 port, until stopped."""
    parser = argparse.ArgumentParser(prog="python -m devkit.s3cli", description=__doc__)
    parser.add_argument("--port", type=int, default=8333, help="the S3 port (default 8333)")
    parser.add_argument("--dir", type=Path, default=Path("var/s3"), help="data and log directory")
    parser.add_argument("--bucket", action="append", default=[], help="create this bucket")
    args = parser.parse_args(argv)

    root: Path = args.dir.resolve()
    root.mkdir(parents=True, exist_ok=True)
    saved = root / "ports.json"
    # The same internal ports as last time when they are free: the data stays where it was.
    ports = WeedPorts.load(saved)
    if (
        ports is None
        or ports.s3 != args.port
        or any(port_open("127.0.0.1", p) for p in ports.all())
    ):
        ports = WeedPorts.free(s3=args.port)
    ports.save(saved)
    server = S3Server(
        root,
        ports=ports,
        access_key=os.environ.get("DEVKIT_S3_ACCESS_KEY", DEFAULT_ACCESS_KEY),
        secret_key=os.environ.get("DEVKIT_S3_SECRET_KEY", DEFAULT_SECRET_KEY),
    )
    try:
        server.start()
    except S3ServerError as exc:
        print(f"error: {exc}")
        return 1
    for bucket in args.bucket:
        server.create_bucket(bucket)
    print(
        f"S3 on {server.endpoint_url} (access key {server.access_key}, region {server.region}), "
        f"data in {server.data_dir}, log in {server.log_path}; Ctrl-C stops it",
        flush=True,
    )
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops weed as Ctrl-C does
    try:
        while server.running:
            time.sleep(0.5)
        print(f"weed stopped on its own; log tail:\n{server.log_tail()}")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
