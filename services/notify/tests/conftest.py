"""Notify's fixtures: a migrated database of the test's own, a real SMTP server on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from events.testing import drain_outbox
from notify.bootstrap import SERVICE
from notify.config import Settings
from notify.container import Container, build
from notify.testing import SmtpServer, settings_for, smtp_settings
from servicekit.testing import migrate


@pytest.fixture
async def database(fresh_database: str) -> str:
    return await migrate(SERVICE, fresh_database)


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpServer]:
    server = await SmtpServer().start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def settings(database: str, smtp: SmtpServer) -> Settings:
    return settings_for(database, smtp=smtp_settings(smtp))


@pytest.fixture
async def container(settings: Settings) -> AsyncIterator[Container]:
    container = build(settings)
    try:
        yield container
    finally:
        await container.close()


@pytest.fixture
def outbox(container: Container) -> Any:
    async def drain() -> list[Any]:
        return await drain_outbox(container.engine)

    return drain
