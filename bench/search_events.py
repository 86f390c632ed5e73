"""Search fed through the bus: index throughput from events, and event → searchable latency.

bench.search measures the index through its port; this measures what a person sees: search's
worker and api running as processes (`devkit.platform`, search and auth, on its own virtual host
and database), fed portfolio events published on the real RabbitMQ exactly as portfolio's
outbox relay publishes them (persistent, confirmed, routed by type).

1. Throughput: `--portfolios` public portfolios, each a `portfolio.created.v1` and two
   `portfolio.item_added.v1` (three document writes), published at once; events/s from the
   first publish until the worker has handled the last (its inbox holds every event), and the
   number of documents in the index checked against the portfolios published.
2. Latency, alone: `--probes` portfolios published one at a time on an idle service, each with
   a word of its own in its title; the time from the publish until `GET /search?q=<word>`
   returns it (the api polled every `POLL_S`), p50/p95/p99.
3. Latency under load: the same probes while a steady stream of other portfolio events flows
   at half the throughput measured in 1 (the index busy, not saturated).

Target: event → searchable p95 under 500 ms, alone and under load. Results go to bench/results/
as JSON and Markdown. Run: `just bench search_events [--portfolios 1000] [--probes 200]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import string
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import aio_pika
import asyncpg
import httpx
from aio_pika.abc import AbstractExchange

from bench.common import machine, percentile, save
from devkit import providers
from devkit.platform import Platform
from events import Event
from events._amqp import Meta, build_message
from events.contracts import PortfolioCreatedV1, PortfolioItemAddedV1
from events.testing import example_event, wait_for

TARGET_P95_MS = 500.0
POLL_S = 0.005
"""How often a probe asks the api: the resolution of the latency measured."""
LOAD_SHARE = 0.5
"""The background stream of phase 3, as a share of the throughput measured in phase 1."""
UNLIMITED = {"RATE_LIMIT__PER_SECOND": "1000000", "RATE_LIMIT__BURST": "1000000"}
"""The probes poll from one address far faster than the anonymous limit allows a person."""
WORDS = ["harbour", "lighthouse", "ceramics", "portrait", "garden", "bridge", "studio", "winter"]


def word(rng: random.Random) -> str:
    """A word no other document holds (letters only: the index splits on anything else)."""
    return "".join(rng.choices(string.ascii_lowercase, k=12))


def portfolio_events(rng: random.Random, title: str) -> list[Event[Any]]:
    """One public portfolio as portfolio publishes it: created, then two items, versions 1..3."""
    portfolio, owner, now = uuid.uuid4(), uuid.uuid4(), datetime.now(UTC)
    common: dict[str, Any] = {"portfolio_id": portfolio, "owner_id": owner}
    events: list[Event[Any]] = [
        example_event(
            PortfolioCreatedV1,
            **common,
            version=1,
            title=title,
            slug=f"p-{portfolio.hex[:12]}",
            visibility="public",
            description="",
            created_at=now,
        )
    ]
    for n in range(2):
        events.append(
            example_event(
                PortfolioItemAddedV1,
                **common,
                version=2 + n,
                item_id=uuid.uuid4(),
                item_version=1,
                title=" ".join(rng.choices(WORDS, k=3)),
                position=n,
                media_id=None,
                added_at=now,
            )
        )
    return events


async def publish(exchange: AbstractExchange, event: Event[Any]) -> None:
    await exchange.publish(
        build_message(Meta.of(event), event.body()), routing_key=event.type, mandatory=True
    )


async def rows(database: str, table: str) -> int:
    """Rows in one of search's tables: `inbox` holds each event its worker handled, once and in
    the same transaction; `search_documents` the index."""
    conn = await asyncpg.connect(database)
    try:
        count: int = await conn.fetchval(f"SELECT count(*) FROM {table}")
        return count
    finally:
        await conn.close()


async def throughput(
    exchange: AbstractExchange, database: str, portfolios: int, rng: random.Random
) -> dict[str, Any]:
    events = [e for _ in range(portfolios) for e in portfolio_events(rng, word(rng))]
    before, docs_before = await rows(database, "inbox"), await rows(database, "search_documents")
    started = time.perf_counter()
    for chunk in chunks(events, 200):  # confirms in flight, bounded
        await asyncio.gather(*(publish(exchange, e) for e in chunk))
    published_s = time.perf_counter() - started
    await wait_for(
        lambda: _reached(database, before + len(events)),
        timeout=600,
        interval=0.05,
        message=f"search's worker to handle {len(events)} events",
    )
    elapsed = time.perf_counter() - started
    indexed = await rows(database, "search_documents") - docs_before
    assert indexed == portfolios, f"{indexed} documents indexed for {portfolios} portfolios"
    return {
        "portfolios": portfolios,
        "events": len(events),
        "published_in_s": round(published_s, 2),
        "handled_in_s": round(elapsed, 2),
        "events_per_s": round(len(events) / elapsed, 1),
        "documents_indexed": indexed,
    }


async def _reached(database: str, count: int) -> bool:
    return await rows(database, "inbox") >= count


def chunks(items: list[Event[Any]], size: int) -> Iterator[list[Event[Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def probe(exchange: AbstractExchange, client: httpx.AsyncClient, rng: random.Random) -> float:
    """Milliseconds from one portfolio's publish until the api finds it by its own word."""
    marker = word(rng)
    events = portfolio_events(rng, f"{marker} portfolio")
    portfolio_id = str(events[0].data.portfolio_id)
    started = time.perf_counter()
    await publish(exchange, events[0])
    deadline = started + 30
    while time.perf_counter() < deadline:
        answer = await client.get("/search", params={"q": marker})
        answer.raise_for_status()
        if any(h["portfolio_id"] == portfolio_id for h in answer.json()["hits"]):
            return (time.perf_counter() - started) * 1000
        await asyncio.sleep(POLL_S)
    raise AssertionError(f"portfolio {portfolio_id} not searchable within 30 s")


async def background(exchange: AbstractExchange, rate: float, stop: asyncio.Event) -> int:
    """Portfolio events at a steady `rate` per second until `stop`; how many were published."""
    rng, sent, started = random.Random(7), 0, time.perf_counter()
    while not stop.is_set():
        for event in portfolio_events(rng, word(rng)):
            await publish(exchange, event)
            sent += 1
        # Paced by the schedule, not by a fixed pause: a slow publish is caught up.
        await asyncio.sleep(max(0.0, started + sent / rate - time.perf_counter()))
    return sent


def latency_row(samples: list[float]) -> dict[str, Any]:
    return {
        "probes": len(samples),
        "p50_ms": round(percentile(samples, 50), 1),
        "p95_ms": round(percentile(samples, 95), 1),
        "p99_ms": round(percentile(samples, 99), 1),
        "max_ms": round(max(samples), 1),
    }


async def run(portfolios: int, probes: int) -> dict[str, Any]:
    rng = random.Random(2026)
    # Auth runs too: search verifies owners' tokens with its keys (unused here, read at start).
    platform = Platform(
        providers.choose(), only=("auth", "search"), env_overrides={"search": UNLIMITED}
    )
    await platform.start()
    try:
        assert platform.run is not None
        database = platform.run.databases["search"]
        connection = await aio_pika.connect_robust(platform.run.amqp_url)
        async with connection, httpx.AsyncClient(base_url=platform.url("search")) as client:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange("events")
            await probe(exchange, client, rng)  # warm: pools connected, code paths imported
            result: dict[str, Any] = {
                "throughput": await throughput(exchange, database, portfolios, rng)
            }
            result["alone"] = latency_row(
                [await probe(exchange, client, rng) for _ in range(probes)]
            )
            rate = result["throughput"]["events_per_s"] * LOAD_SHARE
            stop = asyncio.Event()
            stream = asyncio.create_task(background(exchange, rate, stop))
            try:
                loaded = [await probe(exchange, client, rng) for _ in range(probes)]
            finally:
                stop.set()
                sent = await stream
            result["under_load"] = {
                **latency_row(loaded),
                "background_events_per_s": round(rate, 1),
                "background_events": sent,
            }
            return result
    finally:
        await platform.stop()


def markdown(result: dict[str, Any], load: tuple[float, ...]) -> str:
    t = result["throughput"]
    lines = [
        "# Search fed through the bus",
        "",
        f"{machine()} · load average before: {', '.join(f'{x:.2f}' for x in load)}",
        "",
        f"Throughput: {t['portfolios']} portfolios as {t['events']} events published in "
        f"{t['published_in_s']} s, all handled in {t['handled_in_s']} s: "
        f"**{t['events_per_s']} events/s** (document writes/s); "
        f"{t['documents_indexed']} documents in the index.",
        "",
        f"Event → searchable (publish until the api returns it), target p95 < {TARGET_P95_MS:.0f}"
        " ms:",
        "",
        "| when | probes | p50 ms | p95 ms | p99 ms | max ms | background events/s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ("alone", "under_load"):
        r = result[name]
        lines.append(
            f"| {name.replace('_', ' ')} | {r['probes']} | {r['p50_ms']} | {r['p95_ms']} | "
            f"{r['p99_ms']} | {r['max_ms']} | {r.get('background_events_per_s', 0)} |"
        )
    return "\n".join(lines) + "\n"


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--portfolios", type=int, default=1000)
    parser.add_argument("--probes", type=int, default=200)
    args = parser.parse_args()
    load = os.getloadavg()
    result = await run(args.portfolios, args.probes)
    save("search-events", {**machine(), "loadavg": load, **result}, markdown(result, load))
    met = all(result[k]["p95_ms"] < TARGET_P95_MS for k in ("alone", "under_load"))
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
