"""Where the infrastructure of an e2e run comes from: containers, or servers on loopback.

E2E_INFRA=containers boots RabbitMQ, PostgreSQL, Redis, S3 and Meilisearch with testcontainers
(images chosen in devkit.containers: E2E_IMAGE_*, else the official image if present, else the
local stand-in); E2E_INFRA=local uses the servers on loopback, starting those that are down
(RabbitMQ, PostgreSQL from their Debian packages; an S3 server from SeaweedFS); auto picks
containers when an engine answers and every required image is present, else local. Either way
each run gets its own virtual host, databases and bucket, removed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import asyncpg
import boto3

from devkit import containers, servers
from devkit.s3server import S3Server, S3ServerError
from devkit.weed import WeedPorts

ROOT = servers.repo_root()

DEV_S3_PORT = 8333

LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"


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
    redis_url: str = LOCAL_REDIS_URL
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
    """RabbitMQ, PostgreSQL, Redis, S3 and (where its image exists) Meilisearch in containers.

    Each is a generic testcontainers container, ready when it answers its protocol
    (devkit.containers), so MinIO and the local SeaweedFS stand-in both serve as S3. Ryuk, the
    reaper, runs only where its image is present (it comes from Docker Hub); otherwise `stop`
    removes the containers, all labelled `portfolio.e2e` for a manual sweep after a crash.
    """

    name = "containers"

    def __init__(self, *, pull: bool = True) -> None:
        self._pull = pull
        self._started: dict[str, containers.Started] = {}
        self.run_label = uuid.uuid4().hex[:12]

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
                f"{exc}). Start Docker (`scripts/docker-engine.sh` as root) or run "
                "with E2E_INFRA=local."
            ) from exc

    @classmethod
    def choices(cls) -> dict[str, containers.Choice]:
        """The image each backend would run here, and whether the engine holds it."""
        client = cls.engine()

        def present(image: str) -> bool:
            try:
                client.images.get(image)
                return True
            except Exception:
                return False

        return {k: containers.choose_image(b, present) for k, b in containers.BACKENDS.items()}

    @classmethod
    def missing_images(cls) -> list[str]:
        """The images of required backends the engine does not hold (auto needs none missing)."""
        return [c.image for c in cls.choices().values() if not c.present and not c.backend.optional]

    def start(self) -> Infra:
        client = self.engine()
        notes: list[str] = []
        wanted = self._images(client, notes)
        self._configure_ryuk(client, notes)
        keys = (f"e2e-{uuid.uuid4().hex[:12]}", uuid.uuid4().hex)  # not the development keys
        env = {
            "rabbitmq": {},
            "postgres": {"POSTGRES_PASSWORD": uuid.uuid4().hex},
            "redis": {},
            "s3": {"MINIO_ROOT_USER": keys[0], "MINIO_ROOT_PASSWORD": keys[1]},
            "meilisearch": {},
        }
        # Side by side: the slowest (RabbitMQ, ~20 s on two shared cores) bounds the start.
        with ThreadPoolExecutor(max_workers=len(wanted)) as pool:
            futures = {
                kind: pool.submit(
                    containers.start_backend, choice, env[kind], run_label=self.run_label
                )
                for kind, choice in wanted.items()
            }
        problems = []
        for kind, future in futures.items():
            try:
                self._started[kind] = future.result()
            except Exception as exc:
                problems.append(f"{kind}: {exc}")
        if problems:
            self.stop()
            raise ProviderUnavailable("containers provider: " + "; ".join(problems))
        for kind, started in self._started.items():
            notes.append(
                f"{kind}: {started.image} ({started.choice.reason}) on "
                f"{started.host}:{started.port}, ready in {started.seconds:.1f}s"
            )
        rabbit, pg, redis, s3 = (self._started[k] for k in ("rabbitmq", "postgres", "redis", "s3"))
        meili = self._started.get("meilisearch")
        password = pg.env["POSTGRES_PASSWORD"]
        return Infra(
            provider=self.name,
            amqp_url=f"amqp://guest:guest@{rabbit.host}:{rabbit.port}/",
            postgres_url=f"postgresql://postgres:{password}@{pg.host}:{pg.port}/postgres",
            s3=S3(f"http://{s3.host}:{s3.port}", *keys),
            redis_url=f"redis://{redis.host}:{redis.port}/0",
            meilisearch_url=f"http://{meili.host}:{meili.port}" if meili else None,
            notes=notes,
        )

    def _images(self, client: Any, notes: list[str]) -> dict[str, containers.Choice]:
        """The image of each backend, pulled if absent and allowed; Meilisearch left out, with
        a note, where its image is neither present nor pullable."""
        wanted: dict[str, containers.Choice] = {}
        for kind, choice in self.choices().items():
            if not choice.present:
                problem = self._pull_image(client, choice.image)
                if problem is not None and choice.backend.optional:
                    notes.append(
                        f"{kind}: image {choice.image} is not here ({problem}); search uses "
                        "PostgreSQL full-text search (set E2E_IMAGE_MEILISEARCH to run it)"
                    )
                    continue
                if problem is not None:
                    variable = (choice.backend.variables or (f"E2E_IMAGE_{kind.upper()}",))[0]
                    local = f" (or build the stand-in: `just images-local {kind}`)"
                    raise ProviderUnavailable(
                        f"containers provider: image {choice.image} is not present and cannot "
                        f"be pulled ({problem}). Load it, point {variable} at an image you "
                        f"have{local if choice.backend.local else ''}, or run with E2E_INFRA=local."
                    )
            wanted[kind] = choice
        return wanted

    def _pull_image(self, client: Any, image: str) -> str | None:
        if not self._pull:
            return "pulling is off"
        try:
            client.images.pull(image)
            return None
        except Exception as exc:
            return f"pull failed: {str(exc).splitlines()[0][:160]}"

    @staticmethod
    def _configure_ryuk(client: Any, notes: list[str]) -> None:
        from testcontainers.core.config import testcontainers_config as config

        if config.ryuk_disabled:
            return
        try:
            client.images.get(config.ryuk_image)
        except Exception:
            config.ryuk_disabled = True
            notes.append(
                f"ryuk: {config.ryuk_image} is not here, so the reaper is off; the provider "
                f"removes its containers itself (leftovers: docker ps -f label={containers.LABEL})"
            )

    def _rabbitmqctl(self, *args: str) -> str:
        code, output = self._started["rabbitmq"].container.exec(["rabbitmqctl", "-q", *args])
        if code != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {output!r}")
        return str(output.decode())

    def stop(self) -> None:
        for started in reversed(list(self._started.values())):
            with contextlib.suppress(Exception):  # best effort: Ryuk or the label finds the rest
                started.container.stop()
        self._started.clear()

    def create_vhost(self, name: str) -> None:
        self._rabbitmqctl("add_vhost", name)
        self._rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")

    def delete_vhost(self, name: str) -> None:
        self._rabbitmqctl("delete_vhost", name)

    def vhosts(self) -> list[str]:
        return self._rabbitmqctl("list_vhosts", "name", "--no-table-headers").split()

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
