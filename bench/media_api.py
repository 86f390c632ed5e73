"""Media's API as users meet it: uploads per second, and the memory a large upload costs.

`python -m media api` runs as its own process (the image's entry point) on the local PostgreSQL
and RabbitMQ and a SeaweedFS S3 server of the run's own; the load comes from this process.

1. uploads per second: `--clients` concurrent clients POSTing a 2 MP JPEG (about 1 MB), each
   streamed to a temp file, identified in the imaging pool, stored, recorded, queued;
2. memory: the api's peak RSS (VmHWM) before and after one 50 MB upload (a noise PNG that
   compresses badly): the body is streamed to disk and to storage in parts, never held whole.

Run: `just bench media_api [--uploads N] [--clients K]`.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from PIL import Image

from bench.common import machine, save
from devkit import servers
from devkit.processes import ServiceProcess
from devkit.s3server import S3Server
from devkit.servers import free_port
from media.testing import write_jpeg
from servicekit.testing import JwksServer, TokenIssuer

WORK = Path(__file__).resolve().parent / "results" / "logs"


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


async def seed(db_url: str, owner: uuid.UUID, item: uuid.UUID) -> None:
    conn = await asyncpg.connect(db_url)
    portfolio = uuid.uuid4()
    try:
        await conn.execute(
            "INSERT INTO portfolio_access VALUES ($1, $2, 'public', '{}'::jsonb, false, 1)",
            portfolio,
            owner,
        )
        await conn.execute("INSERT INTO item_access VALUES ($1, $2, false, 2)", item, portfolio)
    finally:
        await conn.close()


def noise_png(path: Path, megabytes: int) -> Path:
    side = int((megabytes * 1024 * 1024 / 3) ** 0.5)
    Image.frombytes("RGB", (side, side), __import__("os").urandom(side * side * 3)).save(
        path, compress_level=0
    )
    return path


async def main(uploads: int, clients: int) -> int:
    WORK.mkdir(parents=True, exist_ok=True)
    vhost = servers.create_vhost("bench")
    db_url = await servers.create_database("bench")
    issuer, owner, item = TokenIssuer(), uuid.uuid4(), uuid.uuid4()
    port = free_port()
    photo = write_jpeg(WORK / "photo.jpg", (1600, 1200))
    big = noise_png(WORK / "big.png", 50)
    with (
        S3Server(access_key="bench", secret_key=uuid.uuid4().hex) as s3,
        JwksServer(issuer) as jwks,
    ):
        env = {
            "MEDIA_ENVIRONMENT": "test",
            "MEDIA_DATABASE_URL": db_url,
            "MEDIA_BUS__AMQP_URL": servers.with_vhost(servers.amqp_url(), vhost),
            "MEDIA_TOKENS__JWKS_URL": jwks.url,
            "MEDIA_S3__ENDPOINT_URL": s3.endpoint_url,
            "MEDIA_S3__ACCESS_KEY": s3.access_key,
            "MEDIA_S3__SECRET_KEY": s3.secret_key,
            "MEDIA_S3__BUCKET": "bench",
            "MEDIA_MAX_UPLOAD_BYTES": str(64 * 1024 * 1024),
            "MEDIA_TEMP_DIR": str(WORK / "media-tmp"),
            "MEDIA_HTTP_PORT": str(port),
            "MEDIA_LOG_LEVEL": "WARNING",
        }
        await ServiceProcess("media", "migrate", env, None, WORK / "media.log").run_to_completion()
        await seed(db_url, owner, item)
        api = ServiceProcess("media", "api", env, port, WORK / "media-api.log")
        await api.start()
        try:
            await api.wait_ready()
            assert api.process is not None
            auth = {"Authorization": f"Bearer {issuer.token(owner, ttl_s=3600)}"}
            url = f"{api.url}/media?item_id={item}"

            async def post(client: httpx.AsyncClient, path: Path) -> int:
                with path.open("rb") as file:
                    answer = await client.post(url, files={"file": (path.name, file)}, headers=auth)
                return answer.status_code

            async with httpx.AsyncClient(timeout=120) as client:
                assert await post(client, photo) == 202  # warm: pool workers, connections
                queue = list(range(uploads))
                codes: list[int] = []

                async def uploader() -> None:
                    while queue:
                        queue.pop()
                        codes.append(await post(client, photo))

                started = time.perf_counter()
                await asyncio.gather(*(uploader() for _ in range(clients)))
                elapsed = time.perf_counter() - started
                before = rss_kib(api.process.pid, "VmRSS"), rss_kib(api.process.pid, "VmHWM")
                big_code = await post(client, big)
                after_peak = rss_kib(api.process.pid, "VmHWM")
        finally:
            await api.stop()
            await servers.drop_database(db_url)
            servers.delete_vhost(vhost)
    results: dict[str, Any] = {
        "uploads": uploads,
        "clients": clients,
        "ok": codes.count(202),
        "per_s": uploads / elapsed,
        "photo_bytes": photo.stat().st_size,
        "big_bytes": big.stat().st_size,
        "big_status": big_code,
        "rss_before_mib": before[0] / 1024,
        "peak_before_mib": before[1] / 1024,
        "peak_after_mib": after_peak / 1024,
        "peak_growth_mib": (after_peak - before[1]) / 1024,
    }
    meta = machine()
    markdown = "\n".join(
        [
            f"# Media API benchmark, {meta['when']}",
            "",
            f"Machine: {meta['machine']}; {meta['cpus']} CPUs. `python -m media api` as its own "
            "process on the local PostgreSQL and RabbitMQ and a SeaweedFS S3 server.",
            "",
            f"- uploads: {results['ok']}/{uploads} accepted (202), {results['per_s']:.1f}/s with "
            f"{clients} clients, {results['photo_bytes'] / 1e6:.1f} MB JPEG each",
            f"- a {results['big_bytes'] / 1e6:.0f} MB upload (answered {big_code}): the api's peak "
            f"RSS {results['peak_before_mib']:.1f} MiB before, {results['peak_after_mib']:.1f} "
            f"MiB after: +{results['peak_growth_mib']:.1f} MiB",
            "",
        ]
    )
    save("media_api", {"meta": meta, "results": results}, markdown)
    return 0 if results["ok"] == uploads and big_code == 202 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--uploads", type=int, default=100)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.uploads, args.clients)))
