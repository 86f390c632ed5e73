"""Auth's test fixtures: a migrated database of the test's own, a frozen clock, the API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from auth.bootstrap import SERVICE
from auth.config import Settings
from auth.container import Container, build
from auth.testing import Outbox, settings_for
from servicekit.clock import FrozenClock
from servicekit.testing import api_client, migrate


@pytest.fixture
async def database(fresh_database: str) -> str:
    return await migrate(SERVICE, fresh_database)


@pytest.fixture
def settings(database: str) -> Settings:
    return settings_for(database)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
async def container(settings: Settings, clock: FrozenClock) -> AsyncIterator[Container]:
    container = build(settings, clock=clock)
    try:
        yield container
    finally:
        await container.close()


@pytest.fixture
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(SERVICE, container) as client:
        yield client


@pytest.fixture
def outbox(container: Container) -> Outbox:
    return Outbox(container)
