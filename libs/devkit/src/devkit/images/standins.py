"""How to run each stand-in image and know it is ready: its port, its environment, and a probe
that speaks its protocol through the published port (a log line says nothing about that port)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import aio_pika
import asyncpg
import httpx

from devkit.images.catalog import IMAGES

Probe = Callable[[str, int, Mapping[str, str]], Awaitable[None]]
PROBE_TIMEOUT = 3.0  # seconds for one attempt: a server that is up answers in milliseconds


class NotReady(RuntimeError):
    """A stand-in did not answer its protocol before the deadline."""


NOT_YET = (  # what a server still booting raises
    OSError,
    TimeoutError,
    NotReady,
    asyncpg.PostgresError,
    aio_pika.exceptions.AMQPError,
    httpx.TransportError,
)


async def probe_postgres(host: str, port: int, env: Mapping[str, str]) -> None:
    """Log in with the configured user and password over TCP and run a query."""
    user = env.get("POSTGRES_USER", "postgres")
    conn = await asyncpg.connect(
        host=host,
        port=port,
        user=user,
        password=env.get("POSTGRES_PASSWORD"),
        database=env.get("POSTGRES_DB", user),
        timeout=PROBE_TIMEOUT,
    )
    try:
        await conn.fetchval("SELECT 1")
    finally:
        await conn.close()


async def probe_rabbitmq(host: str, port: int, env: Mapping[str, str]) -> None:
    """The whole AMQP handshake with the configured user, then a channel."""
    connection = await aio_pika.connect(
        host=host,
        port=port,
        login=env.get("RABBITMQ_DEFAULT_USER", "guest"),
        password=env.get("RABBITMQ_DEFAULT_PASS", "guest"),
        virtualhost=env.get("RABBITMQ_DEFAULT_VHOST", "/"),
        timeout=PROBE_TIMEOUT,
    )
    async with connection:
        channel = await connection.channel()
        await channel.close()


async def probe_redis(host: str, port: int, env: Mapping[str, str]) -> None:
    """A RESP PING answered by PONG."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), PROBE_TIMEOUT)
    try:
        writer.write(b"*1\r\n$4\r\nPING\r\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.readline(), PROBE_TIMEOUT)
    finally:
        writer.close()
    if answer != b"+PONG\r\n":
        raise NotReady(f"redis answered PING with {answer!r}")


async def probe_s3(host: str, port: int, env: Mapping[str, str]) -> None:
    """The gateway's /healthz, which answers 200 once it reaches its filer (no signature)."""
    async with httpx.AsyncClient(timeout=PROBE_TIMEOUT) as client:
        response = await client.get(f"http://{host}:{port}/healthz")
    if response.status_code != 200:
        raise NotReady(f"s3 /healthz answered {response.status_code}")


@dataclass(frozen=True)
class StandIn:
    """One stand-in: which catalog image, the port it serves, the environment tests give it."""

    name: str
    port: int
    probe: Probe
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def image(self) -> str:
        return IMAGES[self.name].tag


STAND_INS: dict[str, StandIn] = {
    s.name: s
    for s in (
        StandIn("postgres", 5432, probe_postgres, {"POSTGRES_PASSWORD": "stand-in"}),
        StandIn("rabbitmq", 5672, probe_rabbitmq),
        StandIn("redis", 6379, probe_redis),
        StandIn(
            "s3", 8333, probe_s3, {"S3_ACCESS_KEY": "minioadmin", "S3_SECRET_KEY": "minioadmin"}
        ),
    )
}


async def wait_ready(stand_in: StandIn, host: str, port: int, *, timeout: float = 90.0) -> float:
    """Probe until the stand-in answers; the seconds it took, or NotReady with the last error."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        try:
            await stand_in.probe(host, port, stand_in.env)
            return time.monotonic() - started
        except NOT_YET as exc:  # a server still booting refuses, resets, or says it is starting
            last: BaseException = exc
        if time.monotonic() > deadline:
            raise NotReady(
                f"{stand_in.image} did not answer on {host}:{port} within {timeout:.0f}s "
                f"(last: {last.__class__.__name__}: {last})"
            )
        await asyncio.sleep(0.1)
