"""Portfolio: the public page read cached and uncached, and PATCH under contention.

The service runs as its own process (`python -m portfolio api`, the entry point the image runs)
on the local PostgreSQL, RabbitMQ and Redis; the load comes from this process over HTTP.

1. public read latency: `GET /public/<handle>/<slug>` of a portfolio with 20 items, one request
   at a time; cached (the page is in Redis) and uncached (its key is deleted before each request,
   so each is a miss: Redis, then PostgreSQL, then the write back);
2. PATCH under contention: clients that each read the portfolio and PATCH it with the ETag they
   read, all on the same portfolio, for a fixed time; every lost race is a 412, counted.

Run: `just bench portfolio [--requests N] [--clients K] [--seconds S]`.
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
from redis.asyncio import Redis

from bench.common import machine, median, percentile, save
from devkit import servers
from devkit.processes import ServiceProcess
from devkit.servers import free_port
from servicekit.testing import JwksServer, TokenIssuer

LOGS = Path(__file__).resolve().parent / "results" / "logs"


async def seed(db_url: str, owner: uuid.UUID) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute(
            "INSERT INTO owners (user_id, display_name, handle, verified, registered_at) "
            "VALUES ($1, 'Bench Owner', 'bench', true, now())",
            owner,
        )
    finally:
        await conn.close()


async def read_latency(
    client: httpx.AsyncClient, redis: Redis, key: str, n: int, *, cached: bool
) -> list[float]:
    samples = []
    await client.get("/public/bench/gallery")  # warm the page (and the connection)
    for _ in range(n):
        if not cached:
            await redis.delete(key)
        started = time.perf_counter()
        response = await client.get("/public/bench/gallery")
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    return samples


async def contention(
    base_url: str, auth: dict[str, str], portfolio_id: str, clients: int, seconds: float
) -> dict[str, float]:
    outcomes = {"ok": 0, "conflict": 0, "other": 0}
    deadline = time.monotonic() + seconds

    async def writer(n: int) -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            while time.monotonic() < deadline:
                current = await client.get(f"/portfolios/{portfolio_id}", headers=auth)
                answer = await client.patch(
                    f"/portfolios/{portfolio_id}",
                    json={"description": f"writer {n} at {time.monotonic()}"},
                    headers={**auth, "If-Match": current.headers["etag"]},
                )
                key = {200: "ok", 412: "conflict"}.get(answer.status_code, "other")
                outcomes[key] += 1

    started = time.perf_counter()
    await asyncio.gather(*(writer(n) for n in range(clients)))
    elapsed = time.perf_counter() - started
    return {**outcomes, "seconds": elapsed, "ok_per_s": outcomes["ok"] / elapsed}


async def main(requests: int, clients: int, seconds: float, rounds: int) -> int:
    servers.require_rabbitmq()
    vhost = servers.create_vhost("bench")
    db_url = await servers.create_database("bench")
    issuer = TokenIssuer()
    owner = uuid.uuid4()
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    redis = Redis.from_url("redis://127.0.0.1:6379/0")
    port = free_port()
    with JwksServer(issuer) as jwks:
        env = {
            "PORTFOLIO_DATABASE_URL": db_url,
            "PORTFOLIO_BUS__AMQP_URL": servers.with_vhost(servers.amqp_url(), vhost),
            "PORTFOLIO_REDIS__KEY_PREFIX": prefix,
            "PORTFOLIO_TOKENS__JWKS_URL": jwks.url,
            "PORTFOLIO_HTTP_PORT": str(port),
            "PORTFOLIO_LOG_LEVEL": "WARNING",
        }
        migrate = ServiceProcess("portfolio", "migrate", env, None, LOGS / "portfolio.log")
        await migrate.run_to_completion()
        await seed(db_url, owner)
        api = ServiceProcess("portfolio", "api", env, port, LOGS / "portfolio-api.log")
        await api.start()
        try:
            await api.wait_ready()
            auth = {"Authorization": f"Bearer {issuer.token(owner, ttl_s=3600)}"}
            async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
                created = await client.post(
                    "/portfolios",
                    json={"title": "Gallery", "slug": "gallery", "visibility": "public"},
                    headers=auth,
                )
                portfolio = created.json()
                await client.post(
                    f"/portfolios/{portfolio['id']}/items",
                    json={
                        "items": [{"title": f"Work {n}", "description": "oil"} for n in range(20)]
                    },
                    headers=auth,
                )
                key = f"{prefix}:page:bench:gallery"
                runs: list[dict[str, Any]] = []
                for _ in range(rounds):
                    cached = await read_latency(client, redis, key, requests, cached=True)
                    uncached = await read_latency(client, redis, key, requests, cached=False)
                    runs.append(
                        {
                            "cached_p50": percentile(cached, 50),
                            "cached_p95": percentile(cached, 95),
                            "uncached_p50": percentile(uncached, 50),
                            "uncached_p95": percentile(uncached, 95),
                        }
                    )
            writes = await contention(api.url, auth, portfolio["id"], clients, seconds)
        finally:
            await api.stop()
            await redis.aclose()
            await servers.drop_database(db_url)
            servers.delete_vhost(vhost)
    reads = {k: median([r[k] for r in runs]) for k in runs[0]}
    meta = machine() | {
        "requests": requests,
        "clients": clients,
        "seconds": seconds,
        "rounds": rounds,
    }
    markdown = report(reads, writes, meta)
    save("portfolio", {"meta": meta, "reads": reads, "rounds": runs, "writes": writes}, markdown)
    return 0


def report(reads: dict[str, float], writes: dict[str, float], meta: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"# Portfolio benchmark, {meta['when']}",
            "",
            f"Machine: {meta['machine']}; {meta['cpus']} CPUs; Python {meta['python']}. "
            f"`python -m portfolio api` as its own process on the local PostgreSQL, RabbitMQ and "
            f"Redis; {meta['requests']} sequential requests per measure, median of "
            f"{meta['rounds']} rounds.",
            "",
            "| public page (20 items) | p50 ms | p95 ms |",
            "|---|---:|---:|",
            f"| cached (Redis) | {reads['cached_p50']:.2f} | {reads['cached_p95']:.2f} |",
            f"| uncached (miss: PostgreSQL, then cached) | {reads['uncached_p50']:.2f} | "
            f"{reads['uncached_p95']:.2f} |",
            "",
            f"PATCH under contention: {meta['clients']} clients reading the ETag then PATCHing "
            f"the same portfolio for {writes['seconds']:.1f} s: {writes['ok']} applied "
            f"({writes['ok_per_s']:.1f}/s), {writes['conflict']} refused with 412 (a lost race, "
            f"nothing overwritten), {writes['other']} other answers.",
            "",
        ]
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.requests, args.clients, args.seconds, args.rounds)))
