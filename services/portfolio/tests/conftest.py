"""Portfolio's fixtures: a migrated database, real Redis keys of the test's own, an API whose
callers carry tokens signed like auth's."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from portfolio.bootstrap import SERVICE
from portfolio.config import Settings
from portfolio.container import Container, build
from portfolio.testing import REDIS_URL, settings_for
from servicekit.clock import FrozenClock
from servicekit.testing import Outbox, TokenIssuer, api_client, migrate


@pytest.fixture
async def database(fresh_database: str) -> str:
    return await migrate(SERVICE, fresh_database)


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except OSError as exc:
        pytest.fail(
            f"Redis is not reachable at {REDIS_URL} ({exc}): start it with `just infra` "
            "(redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '')",
            pytrace=False,
        )
    yield client
    await client.aclose()


@pytest.fixture
async def settings(database: str, redis: Redis) -> AsyncIterator[Settings]:
    settings = settings_for(database)
    yield settings
    keys = [k async for k in redis.scan_iter(f"{settings.redis.key_prefix}:*")]
    if keys:
        await redis.delete(*keys)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def issuer() -> TokenIssuer:
    return TokenIssuer()


@pytest.fixture
async def container(
    settings: Settings, clock: FrozenClock, issuer: TokenIssuer
) -> AsyncIterator[Container]:
    container = build(settings, clock=clock)
    await container.verifier.close()
    container.verifier = issuer.verifier()
    try:
        yield container
    finally:
        await container.close()


@pytest.fixture
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(SERVICE, container) as client:
        yield client


@pytest.fixture
def outbox(database: str) -> Outbox:
    return Outbox(database)
