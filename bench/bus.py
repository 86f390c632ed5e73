"""The bus against a plain aio-pika loop doing the same work, on the local servers.

Three measurements, each run for the bus and for the plain loop in the same process, on the same
broker and database, one after the other:

1. publish with confirms: N events serialised and published (persistent, mandatory), with the
   same number in flight;
2. outbox to handler: an event committed with a state change, then received by its handler. The
   bus goes through the outbox, the relay (woken by NOTIFY) and the consumer; the plain loop commits
   and then publishes directly (the dual write the outbox exists to avoid);
3. consume with inbox: N queued events, each handled in a transaction that records it in the
   inbox and applies a state change, acked after commit, with the same prefetch.

Results go to bench/results/ as JSON and Markdown. Run: `just bench [--events N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import platform
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from devkit import servers as infra
from events import UnitOfWork, create_bus_tables
from events.catalog import CATALOG, Subscription
from events.connection import connect
from events.consumer import Consumer
from events.contracts import UserRegisteredV1
from events.db import create_engine, session_factory
from events.outbox import OutboxRelay
from events.publisher import RabbitPublisher
from events.routing import Delivery, Router
from events.settings import BusSettings
from events.testing import example, example_event

RESULTS = Path(__file__).resolve().parent / "results"
WINDOW = 256  # publishes in flight, for both contenders
PREFETCH = 64


@dataclass
class Result:
    name: str
    unit: str
    bus: float
    plain: float
    higher_is_better: bool
    target: str

    @property
    def ratio(self) -> float:
        """How many times worse the bus is than the plain loop (1.0 = equal, <1 = better)."""
        if self.higher_is_better:
            return self.plain / self.bus if self.bus else float("inf")
        return self.bus / self.plain if self.plain else float("inf")


async def windowed(coros: list[Callable[[], Awaitable[Any]]], window: int) -> None:
    """Run the calls with at most `window` in flight: what a busy relay or API does."""
    semaphore = asyncio.Semaphore(window)

    async def one(call: Callable[[], Awaitable[Any]]) -> None:
        async with semaphore:
            await call()

    await asyncio.gather(*(one(c) for c in coros))


def plain_body(data: dict[str, Any]) -> tuple[str, bytes]:
    event_id = str(uuid.uuid4())
    envelope = {
        "specversion": "1.0",
        "id": event_id,
        "source": "/auth",
        "type": "user.registered.v1",
        "time": datetime.now(UTC).isoformat(),
        "subject": data["user_id"],
        "datacontenttype": "application/json",
        "correlationid": event_id,
        "data": data,
    }
    return event_id, json.dumps(envelope).encode()


def plain_data() -> dict[str, Any]:
    return example(UserRegisteredV1).model_dump(mode="json")


async def bench_publish(conn: AbstractRobustConnection, settings: BusSettings, n: int) -> Result:
    channel = await conn.channel()
    exchange = await channel.declare_exchange(
        settings.exchange, aio_pika.ExchangeType.TOPIC, durable=True
    )
    sink = await channel.declare_queue(f"bench.sink.{uuid.uuid4().hex[:6]}", auto_delete=True)
    await sink.bind(exchange, "user.registered.v1")

    publisher = RabbitPublisher(conn, settings)
    await publisher.start()
    events = [example_event(UserRegisteredV1) for _ in range(n)]
    started = time.perf_counter()
    await windowed([functools.partial(publisher.publish, e) for e in events], WINDOW)
    bus_rate = n / (time.perf_counter() - started)

    plain_channel = await conn.channel(publisher_confirms=True, on_return_raises=True)
    plain_exchange = await plain_channel.get_exchange(settings.exchange)
    datas = [plain_data() for _ in range(n)]

    async def plain_publish(data: dict[str, Any]) -> None:
        event_id, body = plain_body(data)
        message = aio_pika.Message(
            body,
            content_type="application/cloudevents+json",
            message_id=event_id,
            type="user.registered.v1",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        await plain_exchange.publish(message, "user.registered.v1", mandatory=True)

    started = time.perf_counter()
    await windowed([functools.partial(plain_publish, d) for d in datas], WINDOW)
    plain_rate = n / (time.perf_counter() - started)
    await sink.purge()
    await channel.close()
    await plain_channel.close()
    await publisher.close()
    return Result("publish with confirms", "events/s", bus_rate, plain_rate, True, "ratio <= 1.3")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def bench_latency(
    conn: AbstractRobustConnection, settings: BusSettings, engine: AsyncEngine, n: int
) -> tuple[Result, Result]:
    sessions = session_factory(engine)
    service = f"b{uuid.uuid4().hex[:6]}"
    sub = Subscription(service, "latency", (UserRegisteredV1,), "bench")
    router = Router(service, CATALOG.with_subscriptions([sub]))
    arrived: dict[uuid.UUID, float] = {}
    got_one = asyncio.Event()

    async def handler(delivery: Delivery[UserRegisteredV1]) -> None:
        arrived[delivery.event.id] = time.perf_counter()
        got_one.set()

    router.on("latency", UserRegisteredV1, handler)
    consumer = Consumer(conn, router, settings)
    await consumer.start()
    publisher = RabbitPublisher(conn, settings)
    await publisher.start()
    stop = asyncio.Event()
    relay_task = asyncio.create_task(OutboxRelay(engine, publisher).run(stop))
    await asyncio.sleep(0.5)  # let the relay's LISTEN connection come up before timing

    bus_samples: list[float] = []
    for _ in range(n):
        event = example_event(UserRegisteredV1)
        got_one.clear()
        async with UnitOfWork(sessions) as uow:
            await (await uow.db.connection()).execute(
                text("INSERT INTO bench_state (id) VALUES (:id)"), {"id": event.id}
            )
            await uow.publish_event(event)
            await uow.commit()
        committed = time.perf_counter()
        await asyncio.wait_for(got_one.wait(), 10)
        bus_samples.append((arrived[event.id] - committed) * 1000)
    stop.set()
    await relay_task
    await consumer.stop()

    # The plain loop: commit the change, then publish on a confirm channel, consume directly.
    channel = await conn.channel(publisher_confirms=True, on_return_raises=True)
    exchange = await channel.get_exchange(settings.exchange)
    queue = await channel.declare_queue(f"bench.plain.{uuid.uuid4().hex[:6]}", auto_delete=True)
    await queue.bind(exchange, "user.registered.v1")
    plain_arrived: dict[str, float] = {}
    plain_got = asyncio.Event()

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        json.loads(message.body)
        plain_arrived[message.message_id or ""] = time.perf_counter()
        await message.ack()
        plain_got.set()

    await queue.consume(on_message)
    plain_samples: list[float] = []
    for _ in range(n):
        event_id, body = plain_body(plain_data())
        plain_got.clear()
        async with engine.begin() as db:
            await db.execute(text("INSERT INTO bench_state (id) VALUES (:id)"), {"id": event_id})
        committed = time.perf_counter()
        await exchange.publish(
            aio_pika.Message(body, message_id=event_id, delivery_mode=2),
            "user.registered.v1",
            mandatory=True,
        )
        await asyncio.wait_for(plain_got.wait(), 10)
        plain_samples.append((plain_arrived[event_id] - committed) * 1000)
    await channel.close()
    await publisher.close()
    return (
        Result(
            "outbox to handler p50",
            "ms",
            percentile(bus_samples, 0.5),
            percentile(plain_samples, 0.5),
            False,
            "bus p50 < 20 ms",
        ),
        Result(
            "outbox to handler p99",
            "ms",
            percentile(bus_samples, 0.99),
            percentile(plain_samples, 0.99),
            False,
            "reported",
        ),
    )


async def bench_consume(
    conn: AbstractRobustConnection, settings: BusSettings, engine: AsyncEngine, n: int
) -> Result:
    sessions = session_factory(engine)
    service = f"c{uuid.uuid4().hex[:6]}"
    sub = Subscription(service, "inbox", (UserRegisteredV1,), "bench")
    router = Router(service, CATALOG.with_subscriptions([sub]))
    done = asyncio.Event()
    count = 0

    async def handler(delivery: Delivery[UserRegisteredV1]) -> None:
        nonlocal count
        async with UnitOfWork(sessions) as uow:
            if not await uow.claim(delivery):
                return
            await (await uow.db.connection()).execute(
                text("INSERT INTO bench_state (id) VALUES (:id)"), {"id": delivery.event.id}
            )
            await uow.commit()
        count += 1
        if count == n:
            done.set()

    router.on("inbox", UserRegisteredV1, handler)
    bus_settings = settings.model_copy(update={"prefetch": PREFETCH})
    # Declare the topology, fill the queue, then time the drain.
    channel = await conn.channel()
    from events.topology import declare_subscription

    await declare_subscription(channel, sub, bus_settings)
    publisher = RabbitPublisher(conn, settings)
    await publisher.start()
    await windowed([lambda: publisher.publish(example_event(UserRegisteredV1))] * n, WINDOW)
    consumer = Consumer(conn, router, bus_settings)
    started = time.perf_counter()
    await consumer.start()
    await asyncio.wait_for(done.wait(), 300)
    bus_rate = n / (time.perf_counter() - started)
    await consumer.stop()

    queue = await channel.declare_queue(
        f"bench.inbox.{uuid.uuid4().hex[:6]}", durable=True, arguments={"x-queue-type": "quorum"}
    )
    plain_pub = await conn.channel(publisher_confirms=True)
    for _ in range(n):
        event_id, body = plain_body(plain_data())
        await plain_pub.default_exchange.publish(
            aio_pika.Message(body, message_id=event_id, delivery_mode=2), queue.name
        )
    plain_done = asyncio.Event()
    plain_count = 0
    consume_channel = await conn.channel()
    await consume_channel.set_qos(prefetch_count=PREFETCH)
    plain_queue = await consume_channel.get_queue(queue.name)

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        nonlocal plain_count
        envelope = json.loads(message.body)
        async with engine.begin() as db:
            claimed = await db.execute(
                text(
                    "INSERT INTO inbox (consumer, event_id, event_type) VALUES (:c, :id, :t) "
                    "ON CONFLICT DO NOTHING RETURNING event_id"
                ),
                {"c": queue.name, "id": envelope["id"], "t": envelope["type"]},
            )
            if claimed.first() is not None:
                await db.execute(
                    text("INSERT INTO bench_state (id) VALUES (:id)"), {"id": envelope["id"]}
                )
        await message.ack()
        plain_count += 1
        if plain_count == n:
            plain_done.set()

    started = time.perf_counter()
    await plain_queue.consume(on_message)
    await asyncio.wait_for(plain_done.wait(), 300)
    plain_rate = n / (time.perf_counter() - started)
    await consume_channel.close()
    await plain_pub.close()
    await channel.close()
    await publisher.close()
    return Result("consume with inbox", "events/s", bus_rate, plain_rate, True, "ratio <= 1.3")


def verdict(result: Result) -> str:
    if result.name == "outbox to handler p50":
        return "pass" if result.bus < 20 else "FAIL"
    if result.target.startswith("ratio"):
        return "pass" if result.ratio <= 1.3 else "FAIL"
    return "-"


def report(results: list[Result], meta: dict[str, Any]) -> str:
    lines = [
        f"# Bus benchmark, {meta['when']}",
        "",
        f"Machine: {meta['machine']}; {meta['cpus']} CPUs; Python {meta['python']}; "
        f"{meta['events']} events per throughput run, {meta['samples']} latency samples; "
        f"each row is the median of {meta['rounds']} rounds.",
        "",
        "| measure | unit | bus | plain aio-pika | bus/plain cost | target | verdict |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.unit} | {r.bus:,.1f} | {r.plain:,.1f} | {r.ratio:.2f}x | "
            f"{r.target} | {verdict(r)} |"
        )
    lines += [
        "",
        "Cost is how many times slower the bus is than the plain loop (below 1: faster). The "
        "plain outbox-to-handler loop publishes right after its commit (a dual write, which can "
        "lose the event on a crash); the bus pays for the guarantee with one NOTIFY round trip "
        "and one UPDATE.",
    ]
    return "\n".join(lines) + "\n"


def median_round(rounds: list[Result]) -> Result:
    """The round with the median bus/plain cost."""
    ordered = sorted(rounds, key=lambda r: r.ratio)
    return ordered[len(ordered) // 2]


async def main(events_n: int, samples: int, rounds: int) -> int:
    infra.require_rabbitmq()
    vhost = infra.create_vhost("bench")
    db_url = await infra.create_database("bench")
    engine = create_engine(db_url)
    settings = BusSettings(
        amqp_url=SecretStr(infra.with_vhost(infra.amqp_url(), vhost)), exchange="events"
    )
    conn = await connect(settings, "bench")
    try:
        async with engine.begin() as db:
            await db.run_sync(create_bus_tables)
            await db.execute(text("CREATE TABLE bench_state (id uuid PRIMARY KEY)"))
        # Each measure runs `rounds` times and the median round is kept: one run on a shared
        # 2-core machine is at the mercy of whatever else it is doing.
        runs: list[list[Result]] = []
        for _ in range(rounds):
            run = [await bench_publish(conn, settings, events_n)]
            run += list(await bench_latency(conn, settings, engine, samples))
            run.append(await bench_consume(conn, settings, engine, events_n))
            runs.append(run)
        results = [median_round([run[i] for run in runs]) for i in range(len(runs[0]))]
    finally:
        await conn.close()
        await engine.dispose()
        await infra.drop_database(db_url)
        infra.delete_vhost(vhost)
    meta = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "events": events_n,
        "samples": samples,
        "rounds": rounds,
    }
    text_report = report(results, meta)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    payload = {"meta": meta, "results": [asdict(r) | {"ratio": r.ratio} for r in results]}
    (RESULTS / f"bus-{stamp}.json").write_text(json.dumps(payload, indent=2) + "\n")
    (RESULTS / "bus-latest.md").write_text(text_report)
    print(text_report)
    return 0 if all(verdict(r) != "FAIL" for r in results) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.events, args.samples, args.rounds)))
