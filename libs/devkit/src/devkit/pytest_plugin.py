"""Fixtures devkit gives every test session: real servers, isolated per run.

Each session gets its own RabbitMQ virtual host and its own S3 server; each requester its own
database and bucket, all removed afterwards, so runs never see each other's data. A fault proxy
factory puts a cuttable connection in front of any of them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from pydantic import SecretStr

from devkit import servers as infra
from devkit.faultproxy import FaultProxy
from devkit.s3server import S3Server, S3ServerError
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


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A SeaweedFS S3 server on free loopback ports, its data removed after the session."""
    # Keys of the session's own: services refuse the development defaults outside dev.
    server = S3Server(access_key=f"test-{uuid.uuid4().hex[:12]}", secret_key=uuid.uuid4().hex)
    try:
        server.start()
    except S3ServerError as exc:
        server.close()
        pytest.fail(f"the test S3 server could not start: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> Iterator[str]:
    """A bucket name no one has used (not created: the code under test may create it); the
    bucket is removed afterwards with everything in it."""
    name = f"test-{uuid.uuid4().hex[:16]}"
    try:
        yield name
    finally:
        if not s3_server.running:
            s3_server.start()  # a test that stopped the server must not leak its bucket
        s3_server.delete_bucket(name)


@pytest.fixture
def fault_proxy() -> Iterator[Callable[[str, int], FaultProxy]]:
    """Starts fault proxies in front of `host:port`; all are stopped after the test."""
    started: list[FaultProxy] = []

    def start(host: str, port: int) -> FaultProxy:
        proxy = FaultProxy(host, port).start()
        started.append(proxy)
        return proxy

    try:
        yield start
    finally:
        for proxy in started:
            proxy.stop()
