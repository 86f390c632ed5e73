"""The backends the containers provider boots, each as a generic container that is ready when it
answers its own protocol through the published port (an AMQP login, a PostgreSQL query, a Redis
PING, a signed S3 ListBuckets, Meilisearch's /health), never when a log line appears: a log line
is one vendor's, and says nothing about the port a test connects to.

So one provider runs the official images (MinIO for S3) where a registry serves them and the
stand-ins `images/` builds from Debian packages (SeaweedFS for S3) where none does. The image of
each backend is `E2E_IMAGE_<KIND>` when set; otherwise the official one when the engine holds it,
else the local stand-in when that is built, else the official one, to be pulled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import httpx

from devkit.images.catalog import IMAGES as LOCAL_IMAGES
from devkit.images.standins import (
    NOT_YET,
    PROBE_TIMEOUT,
    NotReady,
    probe_postgres,
    probe_rabbitmq,
    probe_redis,
)

Probe = Callable[[str, int, Mapping[str, str]], Awaitable[None]]
READY_TIMEOUT = 120.0  # seconds for one backend to answer: a cold RabbitMQ on 2 shared cores
NOT_DURABLE = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
LABEL = "portfolio.e2e"  # every container the provider starts: `docker ps -f label=portfolio.e2e`


async def probe_s3(host: str, port: int, env: Mapping[str, str]) -> None:
    """A ListBuckets signed with the configured keys: MinIO, SeaweedFS and S3 all answer it, and
    it proves the keys are accepted, which an unsigned health path does not."""

    def list_buckets() -> None:
        client = boto3.client(
            "s3",
            endpoint_url=f"http://{host}:{port}",
            aws_access_key_id=env["MINIO_ROOT_USER"],
            aws_secret_access_key=env["MINIO_ROOT_PASSWORD"],
            region_name="us-east-1",
            config=botocore.config.Config(
                connect_timeout=PROBE_TIMEOUT,
                read_timeout=PROBE_TIMEOUT,
                retries={"max_attempts": 1},
            ),
        )
        try:
            client.list_buckets()
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise NotReady(f"s3 ListBuckets: {exc}") from exc

    await asyncio.to_thread(list_buckets)


async def probe_meilisearch(host: str, port: int, env: Mapping[str, str]) -> None:
    """Meilisearch's /health says `available` once it serves requests."""
    async with httpx.AsyncClient(timeout=PROBE_TIMEOUT) as client:
        response = await client.get(f"http://{host}:{port}/health")
    if response.status_code != 200 or response.json().get("status") != "available":
        raise NotReady(f"meilisearch /health answered {response.status_code}: {response.text}")


@dataclass(frozen=True)
class Backend:
    """One backend: the official image and the local stand-in, its port, environment, probe."""

    kind: str
    official: str
    local: str | None
    port: int
    probe: Probe
    env: Mapping[str, str] = field(default_factory=dict)
    variables: tuple[str, ...] = ()  # E2E_IMAGE_* names, the first preferred
    optional: bool = False  # the run goes on without it (search falls back to PostgreSQL)

    def configured(self) -> str | None:
        for name in self.variables or (f"E2E_IMAGE_{self.kind.upper()}",):
            if value := os.environ.get(name):
                return value
        return None

    def port_of(self, image: str) -> int:
        """MinIO serves S3 on 9000; SeaweedFS's gateway (the local stand-in) on 8333."""
        if self.kind == "s3" and "minio" not in image:
            return 8333
        return self.port

    def command_of(self, image: str) -> list[str] | None:
        """MinIO's image needs its `server <dir>`; the stand-in's default command is its server.
        PostgreSQL runs without durability (a run's data dies with its container anyway), as
        test databases are usually run: fsync on an overlay filesystem costs the suite dearly."""
        if self.kind == "s3" and "minio" in image:
            return ["server", "/data"]
        if self.kind == "postgres":
            return [word for setting in NOT_DURABLE for word in ("-c", setting)]
        return None


BACKENDS: dict[str, Backend] = {
    b.kind: b
    for b in (
        Backend(
            "rabbitmq",
            "rabbitmq:3.13-management",
            LOCAL_IMAGES["rabbitmq"].tag,
            5672,
            probe_rabbitmq,
        ),
        Backend("postgres", "postgres:16", LOCAL_IMAGES["postgres"].tag, 5432, probe_postgres),
        Backend("redis", "redis:7", LOCAL_IMAGES["redis"].tag, 6379, probe_redis),
        Backend(
            "s3",
            "minio/minio:RELEASE.2024-10-13T13-34-11Z",
            LOCAL_IMAGES["s3"].tag,
            9000,
            probe_s3,
            variables=("E2E_IMAGE_S3", "E2E_IMAGE_MINIO"),
        ),
        Backend(
            "meilisearch",
            "getmeili/meilisearch:v1.11",
            None,
            7700,
            probe_meilisearch,
            {"MEILI_NO_ANALYTICS": "true"},
            optional=True,
        ),
    )
}


@dataclass(frozen=True)
class Choice:
    """The image a backend runs and why that one (`E2E_IMAGE_S3`, `official`, `local stand-in`)."""

    backend: Backend
    image: str
    reason: str
    present: bool


def choose_image(backend: Backend, present: Callable[[str], bool]) -> Choice:
    """The configured image; else the official one if present; else the local stand-in if
    present; else the official one (which the provider then tries to pull)."""
    if configured := backend.configured():
        return Choice(backend, configured, "configured", present(configured))
    if present(backend.official):
        return Choice(backend, backend.official, "official", True)
    if backend.local is not None and present(backend.local):
        return Choice(backend, backend.local, "local stand-in", True)
    return Choice(backend, backend.official, "official", False)


@dataclass
class Started:
    """A running backend: its container, where it answers, what it took to be ready."""

    choice: Choice
    container: Any
    host: str
    port: int
    env: Mapping[str, str]
    seconds: float

    @property
    def image(self) -> str:
        return self.choice.image


def start_backend(choice: Choice, env: Mapping[str, str], *, run_label: str) -> Started:
    """Start the backend's container (a generic testcontainers DockerContainer) and wait until it
    answers its protocol; the container is stopped again if it never does."""
    from testcontainers.core.container import DockerContainer

    backend = choice.backend
    port = backend.port_of(choice.image)
    env = {**backend.env, **env}
    container = DockerContainer(choice.image).with_exposed_ports(port)
    container = container.with_kwargs(labels={LABEL: run_label})
    for key, value in env.items():
        container = container.with_env(key, value)
    if (command := backend.command_of(choice.image)) is not None:
        container = container.with_command(command)
    started = time.monotonic()
    container.start()
    try:
        host = container.get_container_host_ip()
        try:
            published = int(container.get_exposed_port(port))
        except Exception:  # testcontainers waits for `running`: a container that exits never is
            _raise_if_exited(container, host, port)
            raise
        asyncio.run(_wait_ready(backend, container, host, published, env))
    except BaseException:
        container.stop()
        raise
    return Started(choice, container, host, published, env, time.monotonic() - started)


async def _wait_ready(
    backend: Backend, container: Any, host: str, port: int, env: Mapping[str, str]
) -> None:
    if backend.kind != "rabbitmq":
        await _probe_until_ready(backend, container, host, port, env)
        return
    # aiormq logs every refused attempt at ERROR: a broker still booting is expected here. (Only
    # the broker's probe touches that logger, so no other thread restores its level early.)
    with _quiet("aiormq.connection"):
        await _probe_until_ready(backend, container, host, port, env)


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


async def _probe_until_ready(
    backend: Backend, container: Any, host: str, port: int, env: Mapping[str, str]
) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            await backend.probe(host, port, env)
            return
        except NOT_YET as exc:  # still booting: refused, reset, or "starting up"
            last = exc
        container.reload()
        if container.status in ("exited", "dead"):
            stdout, stderr = container.get_logs()
            tail = (stdout + stderr).decode(errors="replace").strip().splitlines()[-20:]
            raise NotReady(
                f"{container.image} exited before it answered on {host}:{port}:\n" + "\n".join(tail)
            )
        await asyncio.sleep(0.2)
    raise NotReady(
        f"{container.image} did not answer its {backend.kind} protocol on {host}:{port} within "
        f"{READY_TIMEOUT:.0f}s (last: {last.__class__.__name__}: {last})"
    )


def _raise_if_exited(container: Any, host: str, port: int) -> None:
    """NotReady with the tail of its log, if the container has stopped running."""
    container.reload()
    if container.status in ("exited", "dead"):
        stdout, stderr = container.get_logs()
        tail = (stdout + stderr).decode(errors="replace").strip().splitlines()[-20:]
        raise NotReady(
            f"{container.image} exited before it answered on {host}:{port}:\n" + "\n".join(tail)
        )
