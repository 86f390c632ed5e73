"""Finding and isolating the local servers tests and e2e runs need (PostgreSQL, RabbitMQ).

A test that needs a server finds it here, and fails with a message that says what is missing and
how to start it; it never skips.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

DEFAULT_AMQP = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"

START_POSTGRES = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
START_RABBITMQ = "rabbitmq-server -detached"


class InfraMissing(RuntimeError):
    """A server the tests need is not reachable."""


def amqp_url() -> str:
    return os.environ.get("TEST_AMQP_URL", DEFAULT_AMQP)


def postgres_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", DEFAULT_POSTGRES)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _host_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def require_rabbitmq(url: str | None = None) -> str:
    url = url or amqp_url()
    host, port = _host_port(url, 5672)
    if not port_open(host, port):
        raise InfraMissing(
            f"RabbitMQ is not reachable at {host}:{port}. Start it with `{START_RABBITMQ}` "
            f"(or `just infra`), or point TEST_AMQP_URL at a broker."
        )
    return url


def require_postgres(url: str | None = None) -> str:
    url = url or postgres_url()
    host, port = _host_port(url, 5432)
    if not port_open(host, port):
        raise InfraMissing(
            f"PostgreSQL is not reachable at {host}:{port}. Start it with `{START_POSTGRES}` "
            f"(or `just infra`), or point TEST_DATABASE_URL at a server."
        )
    return url


def with_vhost(url: str, vhost: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(vhost, safe="")))


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def rabbitmqctl(*args: str, timeout: float = 60) -> str:
    exe = shutil.which("rabbitmqctl")
    if exe is None:
        raise InfraMissing("rabbitmqctl is not installed: it is needed to create test vhosts")
    done = subprocess.run(
        [exe, "-q", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise InfraMissing(f"rabbitmqctl {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def create_vhost(prefix: str = "test") -> str:
    """A fresh virtual host with full rights for the URL's user; returns its name."""
    vhost = f"{prefix}-{uuid.uuid4().hex[:10]}"
    user = urlsplit(amqp_url()).username or "guest"
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
    return vhost


def delete_vhost(vhost: str) -> None:
    rabbitmqctl("delete_vhost", vhost)


def close_connections(vhost: str, reason: str = "test: broker connection loss") -> None:
    """What an operator or a broker restart does to every client of a vhost."""
    rabbitmqctl("close_all_connections", "--vhost", vhost, reason)


async def create_database(prefix: str = "test") -> str:
    """A fresh, empty database; returns its URL."""
    base = require_postgres()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(base)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(base, name)


async def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    conn = await asyncpg.connect(require_postgres())
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def repo_root() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "uv.lock").exists() or (parent / "Justfile").exists():
            return parent
    return Path.cwd()


def free_port() -> int:
    """A TCP port nothing listens on right now (for servers tests start)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
