"""Where the infrastructure of an e2e run comes from: containers, or servers on loopback.

E2E_INFRA=containers boots RabbitMQ, PostgreSQL, MinIO and Meilisearch with testcontainers (images
overridable by E2E_IMAGE_*); E2E_INFRA=local uses the servers on loopback, starting those that are
down (RabbitMQ, PostgreSQL from their Debian packages; an S3 server from SeaweedFS); auto picks
containers when an engine answers and the images are present, else local. Either way each run
gets its own virtual host, databases and bucket, removed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import asyncpg
import boto3

from devkit import servers
from devkit.s3server import S3Server, S3ServerError
from devkit.weed import WeedPorts

ROOT = servers.repo_root()

DEV_S3_PORT = 8333

IMAGES = {
    "rabbitmq": os.environ.get("E2E_IMAGE_RABBITMQ", "rabbitmq:3.13-management"),
    "postgres": os.environ.get("E2E_IMAGE_POSTGRES", "postgres:16"),
    "minio": os.environ.get("E2E_IMAGE_MINIO", "minio/minio:RELEASE.2024-10-13T13-34-11Z"),
    "meilisearch": os.environ.get("E2E_IMAGE_MEILISEARCH", "getmeili/meilisearch:v1.11"),
}


class ProviderUnavailable(RuntimeError):
    """The chosen provider cannot run here; the message says what is missing and what to do."""


@dataclass(frozen=True)
class S3:
    endpoint_url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"


@dataclass
class Infra:
    """The servers of one provider, before a run carves out its own corner of them."""

    provider: str
    amqp_url: str
    postgres_url: str
    s3: S3
    meilisearch_url: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RunResources:
    """What one run owns: a vhost, a database per service, a bucket."""

    run_id: str
    amqp_url: str
    databases: dict[str, str]
    bucket: str
    s3: S3
    meilisearch_url: str | None


class Provider(Protocol):
    name: str

    def start(self) -> Infra: ...
    def stop(self) -> None: ...
    def create_vhost(self, name: str) -> None: ...
    def delete_vhost(self, name: str) -> None: ...
    def vhosts(self) -> list[str]: ...
    def close_connections(self, vhost: str) -> None: ...


class LocalProvider:
    """The servers on loopback, started where they are down."""

    name = "local"

    def __init__(self, *, dev: bool = False) -> None:
        self._dev = dev
        self._s3: S3Server | None = None

    def start(self) -> Infra:
        amqp_down = not _reachable(servers.amqp_url(), 5672)
        pg_down = not _reachable(servers.postgres_url(), 5432)
        if amqp_down or pg_down:
            done = subprocess.run(
                ["bash", str(ROOT / "scripts" / "infra.sh")],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise ProviderUnavailable(
                    "local provider: could not start PostgreSQL/RabbitMQ: " + done.stderr.strip()
                )
        servers.require_rabbitmq()
        servers.require_postgres()
        # SeaweedFS checks signatures and expiry, so signed URLs are really tested. A developer's
        # run keeps its data and the S3 port media's settings default to; a test run gets its own.
        if self._dev:
            root = ROOT / "var" / "s3"
            root.mkdir(parents=True, exist_ok=True)
            self._s3 = S3Server(root, ports=WeedPorts.free(s3=DEV_S3_PORT))
        else:  # keys of the run's own: services refuse the development ones outside dev
            self._s3 = S3Server(
                access_key=f"e2e-{uuid.uuid4().hex[:12]}", secret_key=uuid.uuid4().hex
            )
        try:
            self._s3.start()
        except S3ServerError as exc:
            raise ProviderUnavailable(
                f"local provider: the S3 server did not start: {exc}"
            ) from exc
        return Infra(
            provider=self.name,
            amqp_url=servers.amqp_url(),
            postgres_url=servers.postgres_url(),
            s3=S3(self._s3.endpoint_url, self._s3.access_key, self._s3.secret_key),
            notes=["S3 is SeaweedFS (weed); search uses PostgreSQL full-text search"],
        )

    def s3_server(self) -> S3Server | None:
        """The local S3 server, which outage tests stop and start again."""
        return self._s3

    def stop(self) -> None:
        if self._s3 is not None:
            if self._dev:
                self._s3.stop()  # keeps its data for the next run
            else:
                self._s3.close()
            self._s3 = None

    def create_vhost(self, name: str) -> None:
        user = urlsplit(servers.amqp_url()).username or "guest"
        servers.rabbitmqctl("add_vhost", name)
        servers.rabbitmqctl("set_permissions", "-p", name, user, ".*", ".*", ".*")

    def delete_vhost(self, name: str) -> None:
        servers.rabbitmqctl("delete_vhost", name)

    def vhosts(self) -> list[str]:
        return servers.rabbitmqctl("list_vhosts", "name", "--no-table-headers").split()

    def close_connections(self, vhost: str) -> None:
        servers.close_connections(vhost)


class ContainersProvider:
    """RabbitMQ, PostgreSQL, MinIO and Meilisearch in containers (testcontainers)."""

    name = "containers"

    def __init__(self, *, pull: bool = True) -> None:
        self._pull = pull
        self._containers: list[Any] = []
        self._rabbit: Any = None

    @staticmethod
    def engine() -> Any:
        try:
            import docker

            client = docker.from_env()
            client.ping()
            return client
        except Exception as exc:
            raise ProviderUnavailable(
                f"containers provider: no container engine answers ({exc.__class__.__name__}: "
                f"{exc}). Start Docker (e.g. `apt-get install docker.io && dockerd &`) or run "
                "with E2E_INFRA=local."
            ) from exc

    @classmethod
    def missing_images(cls) -> list[str]:
        client = cls.engine()
        missing = []
        for image in IMAGES.values():
            try:
                client.images.get(image)
            except Exception:
                missing.append(image)
        return missing

    def start(self) -> Infra:
        client = self.engine()
        for key, image in IMAGES.items():
            try:
                client.images.get(image)
            except Exception:
                if not self._pull:
                    raise ProviderUnavailable(f"image {image} is not present") from None
                try:
                    client.images.pull(image)
                except Exception as exc:
                    raise ProviderUnavailable(
                        f"containers provider: image {image} is not present and cannot be "
                        f"pulled ({exc}). Load it (`docker load`), point E2E_IMAGE_"
                        f"{key.upper()} at an image you have, or run with E2E_INFRA=local."
                    ) from exc
        from testcontainers.core.container import DockerContainer
        from testcontainers.core.waiting_utils import wait_for_logs
        from testcontainers.minio import MinioContainer
        from testcontainers.postgres import PostgresContainer
        from testcontainers.rabbitmq import RabbitMqContainer

        try:
            rabbit = RabbitMqContainer(IMAGES["rabbitmq"]).start()
            self._containers.append(rabbit)
            self._rabbit = rabbit
            postgres = PostgresContainer(IMAGES["postgres"], driver=None).start()
            self._containers.append(postgres)
            minio = MinioContainer(IMAGES["minio"]).start()
            self._containers.append(minio)
            meili = DockerContainer(IMAGES["meilisearch"]).with_exposed_ports(7700)
            meili = meili.with_env("MEILI_NO_ANALYTICS", "true").start()
            self._containers.append(meili)
            wait_for_logs(meili, "Server listening", timeout=60)
        except Exception:
            self.stop()
            raise
        rabbit_host = rabbit.get_container_host_ip()
        rabbit_port = rabbit.get_exposed_port(5672)
        minio_cfg = minio.get_config()
        return Infra(
            provider=self.name,
            amqp_url=f"amqp://guest:guest@{rabbit_host}:{rabbit_port}/",
            postgres_url=postgres.get_connection_url(),
            s3=S3(
                f"http://{minio_cfg['endpoint']}", minio_cfg["access_key"], minio_cfg["secret_key"]
            ),
            meilisearch_url=(
                f"http://{meili.get_container_host_ip()}:{meili.get_exposed_port(7700)}"
            ),
        )

    def _rabbitmqctl(self, *args: str) -> None:
        code, output = self._rabbit.exec(["rabbitmqctl", "-q", *args])
        if code != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {output!r}")

    def stop(self) -> None:
        for container in reversed(self._containers):
            with contextlib.suppress(Exception):  # best effort: the engine reaps the rest
                container.stop()
        self._containers.clear()

    def create_vhost(self, name: str) -> None:
        self._rabbitmqctl("add_vhost", name)
        self._rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")

    def delete_vhost(self, name: str) -> None:
        self._rabbitmqctl("delete_vhost", name)

    def vhosts(self) -> list[str]:
        code, output = self._rabbit.exec(
            ["rabbitmqctl", "-q", "list_vhosts", "name", "--no-table-headers"]
        )
        return output.decode().split() if code == 0 else []

    def close_connections(self, vhost: str) -> None:
        self._rabbitmqctl("close_all_connections", "--vhost", vhost, "e2e: connection loss")


def choose(mode: str | None = None, *, dev: bool = False) -> Provider:
    """The provider E2E_INFRA asks for; `auto` falls back to local with the reason noted."""
    mode = (mode or os.environ.get("E2E_INFRA", "auto")).lower()
    if mode == "local":
        return LocalProvider(dev=dev)
    if mode == "containers":
        return ContainersProvider()
    if mode != "auto":
        raise ProviderUnavailable(f"E2E_INFRA={mode!r}: use containers, local or auto")
    try:
        if not ContainersProvider.missing_images():
            return ContainersProvider(pull=False)
    except ProviderUnavailable:
        pass
    return LocalProvider(dev=dev)


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    return servers.port_open(parts.hostname or "127.0.0.1", parts.port or default_port)


async def allocate(
    provider: Provider, base: Infra, services: list[str], run_id: str | None = None
) -> RunResources:
    """Carve this run's vhost, databases and bucket out of the provider's servers.

    A named run (`dev`) keeps its resources between runs and reuses them; an anonymous one gets
    fresh names, removed by `release`.
    """
    reuse = run_id is not None
    run_id = run_id or uuid.uuid4().hex[:8]
    vhost = f"e2e-{run_id}"
    if not (reuse and vhost in provider.vhosts()):
        provider.create_vhost(vhost)
    databases: dict[str, str] = {}
    conn = await asyncpg.connect(_plain(base.postgres_url))
    try:
        existing = {r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")}
        for service in services:
            name = f"e2e_{run_id}_{service}"
            if not (reuse and name in existing):
                await conn.execute(f'CREATE DATABASE "{name}"')
            databases[service] = servers.with_database(_plain(base.postgres_url), name)
    finally:
        await conn.close()
    bucket = f"e2e-{run_id}"
    with contextlib.suppress(Exception):  # a reused bucket exists already
        _s3_client(base.s3).create_bucket(Bucket=bucket)
    return RunResources(
        run_id=run_id,
        amqp_url=servers.with_vhost(base.amqp_url, vhost),
        databases=databases,
        bucket=bucket,
        s3=base.s3,
        meilisearch_url=base.meilisearch_url,
    )


async def release(provider: Provider, base: Infra, run: RunResources) -> None:
    """Remove everything the run created, so runs never see each other's data."""
    provider.delete_vhost(f"e2e-{run.run_id}")
    conn = await asyncpg.connect(_plain(base.postgres_url))
    try:
        for url in run.databases.values():
            name = urlsplit(url).path.lstrip("/")
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
    s3 = _s3_client(run.s3)
    for obj in s3.list_objects_v2(Bucket=run.bucket).get("Contents", []):
        s3.delete_object(Bucket=run.bucket, Key=obj["Key"])
    s3.delete_bucket(Bucket=run.bucket)


def _plain(url: str) -> str:
    """A libpq URL (testcontainers hands out SQLAlchemy-style ones)."""
    return url.replace("postgresql+psycopg2://", "postgresql://").replace(
        "postgresql+asyncpg://", "postgresql://"
    )


def _s3_client(s3: S3) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=s3.endpoint_url,
        aws_access_key_id=s3.access_key,
        aws_secret_access_key=s3.secret_key,
        region_name=s3.region,
    )
