"""Search's fixtures: a PostgreSQL index in a database of the test's own (behind a fault proxy
when a test takes it away), the service on a migrated database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from devkit.faultproxy import FaultProxy
from search.adapters.postgres import PostgresIndexSettings, PostgresSearchIndex, create_engine
from search.adapters.postgres_schema import install
from search.bootstrap import SERVICE
from search.config import Settings
from search.container import Container, build
from search.testing import settings_for
from servicekit.testing import api_client, migrate


@pytest.fixture
async def pg_engine(fresh_database: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(fresh_database, PostgresIndexSettings(operation_timeout_s=10))
    async with engine.begin() as conn:
        await install(conn)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def pg_index(pg_engine: AsyncEngine) -> PostgresSearchIndex:
    index = PostgresSearchIndex(pg_engine, PostgresIndexSettings(operation_timeout_s=10))
    await index.ensure()
    return index


@pytest.fixture
def postgres_proxy(
    fresh_database: str, fault_proxy: Callable[[str, int], FaultProxy]
) -> FaultProxy:
    """PostgreSQL behind devkit's fault proxy: the index can go down while the server stays up."""
    parts = urlsplit(fresh_database)
    return fault_proxy(parts.hostname or "127.0.0.1", parts.port or 5432)


@pytest.fixture
async def database(fresh_database: str) -> str:
    return await migrate(SERVICE, fresh_database)


@pytest.fixture
def settings(database: str) -> Settings:
    return settings_for(database)


@pytest.fixture
async def container(settings: Settings) -> AsyncIterator[Container]:
    container = build(settings)
    try:
        yield container
    finally:
        await container.close()


@pytest.fixture
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(SERVICE, container) as client:
        yield client
