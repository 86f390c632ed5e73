"""Notify's fixtures: a migrated database of the test's own, a real SMTP server on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from events.testing import drain_outbox
from notify import bootstrap
from notify.bootstrap import Container
from notify.config import Settings
from notify.testing import MIGRATIONS, SmtpServer, settings_for
from servicekit import migrations


@pytest.fixture
async def database(fresh_database: str) -> str:
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, fresh_database)
    return fresh_database


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpServer]:
    server = await SmtpServer().start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def settings(database: str, smtp: SmtpServer) -> Settings:
    return settings_for(database, smtp=smtp.settings())


@pytest.fixture
async def container(settings: Settings) -> AsyncIterator[Container]:
    container = bootstrap.build(settings)
    try:
        yield container
    finally:
        await container.close()


@pytest.fixture
def outbox(container: Container) -> Any:
    async def drain() -> list[Any]:
        return await drain_outbox(container.engine)

    return drain
