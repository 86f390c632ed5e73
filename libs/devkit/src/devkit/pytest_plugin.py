"""Fixtures every service's tests get once `events` is installed: real servers, isolated per run.

Each session gets its own RabbitMQ virtual host and each requester its own database, both removed
afterwards, so runs never see each other's data.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from pydantic import SecretStr

from devkit import servers as infra
from events.settings import BusSettings


@pytest.fixture(scope="session")
def amqp_vhost() -> Iterator[str]:
    """The AMQP URL of a virtual host of this test session's own."""
    try:
        base = infra.require_rabbitmq()
        vhost = infra.create_vhost()
    except infra.InfraMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield infra.with_vhost(base, vhost)
    finally:
        infra.delete_vhost(vhost)


@pytest.fixture
def bus_settings(amqp_vhost: str) -> BusSettings:
    """Bus settings on the session's vhost with an exchange of this test's own."""
    return BusSettings(
        amqp_url=SecretStr(amqp_vhost),
        exchange=f"events.{uuid.uuid4().hex[:8]}",
        reconnect_interval_s=0.2,
        publish_timeout_s=5,
        drain_timeout_s=5,
    )


@pytest.fixture(scope="session")
async def postgres_server() -> str:
    try:
        return infra.require_postgres()
    except infra.InfraMissing as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
async def fresh_database(postgres_server: str) -> AsyncIterator[str]:
    """The URL of an empty database that is dropped after the test."""
    url = await infra.create_database()
    try:
        yield url
    finally:
        await infra.drop_database(url)
