"""The search API and the worker through index downtime, on real PostgreSQL and RabbitMQ: 503
with Retry-After while the index is down, readiness naming it, events retried until it is back
and the index then matching the projection exactly; past the budget, parked, then reconciled."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from devkit.faultproxy import FaultProxy
from events import RabbitPublisher
from events.connection import connect
from events.contracts import PortfolioCreatedV1
from events.dlq import DeadLetterQueues
from events.settings import BusSettings
from events.testing import example_event, wait_for
from search.bootstrap import SERVICE
from search.config import IndexSettings, Settings
from search.container import Container, build
from search.handlers.maintenance import reconcile
from search.ratelimit import RateLimiter
from servicekit.container import open_database
from servicekit.testing import api_client, running_worker


@asynccontextmanager
async def settings_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = open_database(settings)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def proxied(settings: Settings, database: str, postgres_proxy: FaultProxy) -> Settings:
    """The service's own database as it is; its index reached through the fault proxy."""
    index = IndexSettings(database_url=SecretStr(postgres_proxy.url_for(database)))
    return settings.model_copy(update={"index": index})


async def test_queries_answer_503_while_the_index_is_down_and_readiness_says_which(
    proxied: Settings, postgres_proxy: FaultProxy
) -> None:
    container = build(proxied)
    try:
        async with api_client(SERVICE, container) as client:
            assert (await client.get("/search", params={"q": "anything"})).status_code == 200
            postgres_proxy.refuse()
            down = await client.get("/search", params={"q": "anything"})
            assert down.status_code == 503
            assert down.json()["type"].endswith("/search-unavailable")
            assert int(down.headers["retry-after"]) >= 1
            checks = (await client.get("/readyz")).json()["checks"]
            assert checks["index"].startswith("failing") and checks["database"] == "ok"
            postgres_proxy.restore()
            assert (await client.get("/search", params={"q": "anything"})).status_code == 200
    finally:
        await container.close()


async def test_a_bad_cursor_is_400_and_a_flood_is_429(client: httpx.AsyncClient) -> None:
    assert (await client.get("/search", params={"cursor": "garbage"})).status_code == 400
    limited = RateLimiter(per_second=1, burst=2, clock=lambda: 0.0)
    assert [limited.retry_after("a") for _ in range(3)] == [0, 0, 1]
    assert limited.retry_after("b") == 0, "per client address"


@pytest.fixture
async def worker(proxied: Settings, bus_settings: BusSettings) -> AsyncIterator[Container]:
    bus = bus_settings.model_copy(update={"retry_time_scale": 1 / 1000})
    container = build(proxied.model_copy(update={"bus": bus}))
    async with running_worker(SERVICE, container):
        yield container


async def publish(bus: BusSettings, events: list[Any]) -> None:
    connection = await connect(bus, "search-test-producer")
    producer = RabbitPublisher(connection, bus)
    await producer.start()
    for event in events:
        await producer.publish(event)
    await connection.close()


def created(n: int) -> Any:
    return example_event(
        PortfolioCreatedV1,
        portfolio_id=uuid.uuid4(),
        owner_id=uuid.uuid4(),
        title=f"Seascape number {n}",
        visibility="public",
        version=1,
    )


async def test_events_while_the_index_is_down_are_retried_and_it_catches_up_exactly(
    worker: Container, postgres_proxy: FaultProxy, bus_settings: BusSettings
) -> None:
    postgres_proxy.refuse()
    events = [created(n) for n in range(5)]
    await publish(bus_settings, events)

    async def some_retried() -> bool:
        async with worker.uow() as tx:
            return not await tx.projection.all_portfolios()  # nothing applied while down

    await wait_for(some_retried, timeout=5, message="nothing applied while the index is down")
    postgres_proxy.restore()

    async def caught_up() -> bool:
        try:
            return len(await worker.index.versions()) == 5
        except Exception:
            return False

    await wait_for(caught_up, timeout=60, message="every event indexed once the index is back")
    assert await worker.bound(reconcile)() == {"written": 0, "removed": 0}, "exactly"


async def test_past_the_budget_events_are_parked_and_reconcile_or_replay_repairs(
    settings: Settings,
    worker: Container,
    postgres_proxy: FaultProxy,
    bus_settings: BusSettings,
) -> None:
    postgres_proxy.refuse()
    await publish(bus_settings, [created(1)])
    connection = await connect(bus_settings, "search-test-ops")
    ops = DeadLetterQueues(connection)

    async def parked() -> bool:
        return await ops.depth("search.index_portfolio") == 1

    await wait_for(parked, timeout=60, message="parked after the whole ladder")
    postgres_proxy.restore()
    await ops.replay("search.index_portfolio", note="the index is back")

    async def indexed() -> bool:
        try:
            return len(await worker.index.versions()) == 1
        except Exception:
            return False

    await wait_for(indexed, timeout=30, message="the replay indexed it")
    await connection.close()
    # Drift made behind the service's back (an index restored from an older backup, a lost
    # write) is found and fixed.
    [portfolio_id] = (await worker.index.versions()).keys()
    async with settings_engine(settings) as engine, engine.begin() as conn:
        await conn.execute(text("DELETE FROM search_documents"))
    check = build(settings)
    try:
        assert await check.bound(reconcile)() == {"written": 1, "removed": 0}
        assert list((await check.index.versions()).keys()) == [portfolio_id]
    finally:
        await check.close()
