"""Auth's test fixtures: a migrated database of the test's own, a frozen clock, the API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from auth import bootstrap
from auth.bootstrap import Container
from auth.config import Settings
from auth.testing import MIGRATIONS, Outbox, settings_for
from servicekit import migrations
from servicekit.clock import FrozenClock

CLIENT_ADDRESS = "203.0.113.7"


@pytest.fixture
async def database(fresh_database: str) -> str:
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, fresh_database)
    return fresh_database


@pytest.fixture
def settings(database: str) -> Settings:
    return settings_for(database)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
async def container(settings: Settings, clock: FrozenClock) -> AsyncIterator[Container]:
    container = bootstrap.build(settings, clock=clock)
    try:
        yield container
    finally:
        await container.close()


@pytest.fixture
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(
        app=bootstrap.api_app(container), client=(CLIENT_ADDRESS, 50000)
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://auth") as client:
        yield client


@pytest.fixture
def outbox(container: Container) -> Outbox:
    return Outbox(container)
