"""How long the local images take to build and the stand-ins to become ready.

1. build: every catalog image, cold (debootstrap again, `docker build --no-cache`) when asked,
   then again with every cache warm;
2. ready: each stand-in started `--samples` times; the seconds from `docker run` until the
   protocol answers through the published port (what testcontainers waits for) and until its
   HEALTHCHECK reports healthy (what compose's `service_healthy` waits for). The medians count.

Results go to bench/results/ as JSON and images-latest.md. Run:
`uv run python -m bench.images [--cold] [--samples 3]` (needs the engine; builds what is missing).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker

from devkit.images import docker as cli
from devkit.images.build import Built, Options, build_images
from devkit.images.standins import STAND_INS, StandIn, wait_ready
from devkit.servers import repo_root

RESULTS = Path(__file__).resolve().parent / "results"
LABEL = "portfolio.bench.images"


def build_round(cold: bool) -> list[Built]:
    options = Options(force=cold, refresh_rootfs=cold, no_cache=cold)
    return build_images(repo_root(), [], options, log=lambda _: None)


async def ready_times(client: Any, stand_in: StandIn) -> tuple[float, float]:
    """Seconds from `docker run` to the protocol answering, and to the HEALTHCHECK passing."""
    started = time.monotonic()
    container = client.containers.run(
        stand_in.image,
        detach=True,
        environment=dict(stand_in.env),
        ports={f"{stand_in.port}/tcp": ("127.0.0.1", None)},
        labels={LABEL: "1"},
    )
    try:
        container.reload()
        port = int(container.ports[f"{stand_in.port}/tcp"][0]["HostPort"])
        await wait_ready(stand_in, "127.0.0.1", port)
        answered = time.monotonic() - started
        deadline = started + 120
        while container.attrs["State"]["Health"]["Status"] != "healthy":
            if time.monotonic() > deadline:
                raise TimeoutError(f"{stand_in.image} not healthy after 120s")
            await asyncio.sleep(0.1)
            container.reload()
        return answered, time.monotonic() - started
    finally:
        container.remove(force=True)


def report(meta: dict[str, Any], builds: dict[str, Any], ready: dict[str, Any]) -> str:
    lines = [
        f"# Local images, {meta['when']}",
        "",
        f"Machine: {meta['machine']}; {meta['cpus']} CPUs; engine {meta['engine']}. "
        f"Ready times are medians of {meta['samples']} starts.",
        "",
        "| image | size | cold build s | cached build s | protocol answers s | healthy s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, row in builds.items():
        times = ready.get(name, {})
        cells = [
            row["tag"],
            cli.human_size(row["size"]),
            _cell(row.get("cold_s")),
            _cell(row["cached_s"]),
            _cell(times.get("answers_s")),
            _cell(times.get("healthy_s")),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Cold: debootstrap and every `docker build --no-cache`, apt fetching from Debian's mirror. "
        "The Debian base's cached time is its check that the image exists. Healthy waits for "
        "the HEALTHCHECK's first passing probe, so it is bounded below by the probe interval.",
    ]
    return "\n".join(lines) + "\n"


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


async def main(cold: bool, samples: int) -> int:
    engine = cli.require_engine()
    builds: dict[str, Any] = {}
    if cold:
        for built in build_round(cold=True):
            builds[built.spec.name] = {"cold_s": built.seconds}
    for built in build_round(cold=False):
        entry = builds.setdefault(built.spec.name, {})
        entry.update(tag=built.spec.tag, size=built.size, cached_s=built.seconds)
    client = docker.from_env()
    ready: dict[str, Any] = {}
    for name, stand_in in STAND_INS.items():
        runs = [await ready_times(client, stand_in) for _ in range(samples)]
        ready[name] = {
            "answers_s": statistics.median(r[0] for r in runs),
            "healthy_s": statistics.median(r[1] for r in runs),
            "runs": runs,
        }
    meta = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "engine": engine,
        "samples": samples,
        "cold": cold,
    }
    text = report(meta, builds, ready)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    payload = {"meta": meta, "builds": builds, "ready": ready}
    (RESULTS / f"images-{stamp}.json").write_text(json.dumps(payload, indent=2) + "\n")
    (RESULTS / "images-latest.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cold", action="store_true", help="also time builds with no cache")
    parser.add_argument("--samples", type=int, default=3)
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.cold, args.samples)))
