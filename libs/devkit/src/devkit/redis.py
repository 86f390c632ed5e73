"""Finding the Redis server tests need, or saying how to start it."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

from devkit.servers import InfraMissing

DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
START_REDIS = 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ""'


def redis_url() -> str:
    return os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS)


def require_redis(url: str | None = None, *, timeout: float = 1.0) -> str:
    """The URL of a Redis that answers PING (or asks for a password: it is there)."""
    url = url or redis_url()
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            answer = sock.recv(64)
    except OSError as exc:
        raise InfraMissing(
            f"Redis is not reachable at {host}:{port} ({exc}). Start it with `{START_REDIS}` "
            f"(or `just infra`), or point TEST_REDIS_URL at a server."
        ) from exc
    if not answer.startswith((b"+PONG", b"-NOAUTH", b"-WRONGPASS")):
        raise InfraMissing(
            f"{host}:{port} answered {answer[:40]!r} to PING: that is not Redis. Start Redis "
            f"with `{START_REDIS}`, or point TEST_REDIS_URL at one."
        )
    return url
