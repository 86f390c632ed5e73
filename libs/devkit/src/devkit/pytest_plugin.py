"""Fixtures devkit gives every test session: an S3 server of the session's own, a fresh bucket
name per test, a TCP fault proxy factory."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from devkit.faultproxy import FaultProxy
from devkit.s3server import S3Server, S3ServerError


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A SeaweedFS S3 server on free loopback ports, its data removed after the session."""
    server = S3Server()
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
