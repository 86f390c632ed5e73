"""require_redis against the Redis these machines run, and against nothing."""

from __future__ import annotations

import socket

import pytest

from devkit.redis import START_REDIS, require_redis
from devkit.servers import InfraMissing


def test_finds_the_running_redis() -> None:
    url = require_redis()
    assert url.startswith("redis://")


def test_says_how_to_start_redis_when_nothing_listens() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # free once closed
    with pytest.raises(InfraMissing) as missing:
        require_redis(f"redis://127.0.0.1:{port}/0")
    assert START_REDIS in str(missing.value)
    assert "TEST_REDIS_URL" in str(missing.value)


def test_a_server_that_is_not_redis_is_named(postgres_server: str) -> None:
    with pytest.raises(InfraMissing, match="not Redis"):
        require_redis("redis://127.0.0.1:5432/0")
