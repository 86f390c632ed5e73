"""The platform of one run on this machine: infrastructure from a provider, then every service's
migrate, api and worker as processes (the entry points the images run), an SMTP catcher the
tests read back, a local Sentry endpoint, and a Prometheus (where installed) scraping every
process with the alert rules loaded.

Services are found from the catalog and their declarations (`<name>.bootstrap.SERVICE`), so a
new service needs no list to be edited here: what it `needs` (smtp, s3, redis, ...) is provided
by convention, and its `testing.local_env(run)` adds what is its own (signing keys, addresses).
`python -m devkit.platform` runs it for a person (`just up`): fixed ports, until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from devkit import providers
from devkit.faultproxy import FaultProxy
from devkit.processes import ServiceProcess
from devkit.prometheus import DEV_PORT, PrometheusServer, Target
from devkit.servers import free_port
from devkit.smtp import SmtpServer
from events.catalog import CATALOG
from events.testing import SentryCapture
from servicekit.service import Service

LOG_ROOT = providers.ROOT / ".e2e"
# The email policy (1 min .. 6 h) shrunk 3000 times: 20 ms .. 7.2 s, a 29 s budget.
E2E_RETRY_SCALE = float(os.environ.get("E2E_RETRY_TIME_SCALE", str(1 / 3000)))
# Ten processes importing side by side on two shared cores can take over a minute to answer.
READY_TIMEOUT_S = float(os.environ.get("E2E_READY_TIMEOUT_S", "180"))
START_ORDER = ("auth",)
"""Started first: the others verify tokens with auth's keys."""


def declarations() -> list[Service[Any]]:
    """Every service the catalog names whose package is installed, auth first."""
    found: list[Service[Any]] = []
    for name in CATALOG.services():
        try:
            module = importlib.import_module(f"{name}.bootstrap")
        except ModuleNotFoundError as exc:
            if exc.name in (name, f"{name}.bootstrap"):
                continue  # declared in the catalog, not built yet
            raise
        found.append(module.SERVICE)
    return sorted(found, key=lambda s: (s.name not in START_ORDER, s.name))


@dataclass
class LocalRun:
    """What a service's `testing.local_env` may read to build its own settings."""

    platform: Platform
    service: Service[Any]

    @property
    def dev(self) -> bool:
        return self.platform.dev

    def url(self, service: str) -> str:
        return self.platform.url(service)

    def free_port(self, dev_port: int) -> int:
        return dev_port if self.platform.dev else free_port()


@dataclass
class Platform:
    provider: providers.Provider
    retry_time_scale: float = E2E_RETRY_SCALE
    dev: bool = False
    only: tuple[str, ...] | None = None
    base: providers.Infra | None = None
    run: providers.RunResources | None = None
    services: list[Service[Any]] = field(default_factory=list)
    ports: dict[str, tuple[int, int]] = field(default_factory=dict)
    admin_ports: dict[str, int] = field(default_factory=dict)
    """Where each api process serves its ops app (metrics, admin routes)."""
    processes: dict[str, ServiceProcess] = field(default_factory=dict)
    smtp: SmtpServer = field(init=False)
    sentry: SentryCapture = field(init=False)
    proxies: dict[str, FaultProxy] = field(default_factory=dict)
    """A fault proxy in front of each backend a test may take away (s3, redis, search), so it
    can cut one and restore it while the services keep running. Not in a developer's run."""
    env_overrides: dict[str, dict[str, str]] = field(default_factory=dict)
    """Settings a caller imposes on a service above its local defaults (a benchmark's profile),
    unprefixed: `{"auth": {"ARGON2_TIME_COST": "3"}}`."""
    prometheus: PrometheusServer | None = field(default=None, init=False)
    """Started when the prometheus binary is installed (scripts/prometheus.sh)."""
    _sentry_running: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.smtp = SmtpServer(port=1025 if self.dev else 0)
        self.sentry = SentryCapture()

    @property
    def log_dir(self) -> Path:
        return LOG_ROOT / (self.run.run_id if self.run else "pending")

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service][0]}"

    @property
    def redis_url(self) -> str:
        """The provider's Redis (a container, or the server on loopback)."""
        return self.base.redis_url if self.base else providers.LOCAL_REDIS_URL

    def worker(self, service: str) -> ServiceProcess:
        return self.processes[f"{service}-worker"]

    async def cut_broker_connections(self) -> None:
        """What a broker restart or a network partition does: the broker closes every
        connection of this run's virtual host (the services' robust connections come back)."""
        assert self.run is not None
        vhost = unquote(urlsplit(self.run.amqp_url).path.lstrip("/")) or "/"
        await asyncio.to_thread(self.provider.close_connections, vhost)

    def ops_url(self, service: str) -> str:
        """The ops port of a service's worker: metrics, readiness and the admin routes."""
        return self.worker(service).url

    async def start(self) -> None:
        self.services = [s for s in declarations() if self.only is None or s.name in self.only]
        names = [s.name for s in self.services]
        self.base = await asyncio.to_thread(self.provider.start)
        self.run = await providers.allocate(
            self.provider, self.base, names, run_id="dev" if self.dev else None
        )
        await self.smtp.start()
        self.sentry.__enter__()
        self._sentry_running = True
        if not self.dev:
            self._start_proxies()
        for service in self.services:
            self.ports[service.name] = service.ports() if self.dev else (free_port(), free_port())
            self.admin_ports[service.name] = (
                self.ports[service.name][1] + 100 if self.dev else free_port()
            )
        try:
            await asyncio.gather(*(self._migrate(s) for s in self.services))
            for service in self.services:
                await self._spawn(service)
            await asyncio.gather(*(p.wait_ready(READY_TIMEOUT_S) for p in self.processes.values()))
            await self._start_prometheus()
        except BaseException:
            await self.stop()
            raise

    def metrics_targets(self) -> list[Target]:
        """Every process's ops app: the worker's port, and the api's admin port."""
        targets = []
        for service in self.services:
            targets.append(
                Target(service.name, "worker", f"127.0.0.1:{self.ports[service.name][1]}")
            )
            targets.append(
                Target(service.name, "api", f"127.0.0.1:{self.admin_ports[service.name]}")
            )
        return targets

    async def _start_prometheus(self) -> None:
        if not PrometheusServer.available():
            return
        self.prometheus = PrometheusServer(
            self.metrics_targets(),
            self.log_dir / "prometheus",
            port=DEV_PORT if self.dev else 0,
            interval_s=5.0 if self.dev else 1.0,
        )
        await self.prometheus.start()

    def _start_proxies(self) -> None:
        assert self.run is not None
        s3 = urlsplit(self.run.s3.endpoint_url)
        database = urlsplit(self.run.databases.get("search", self.run.amqp_url))
        redis = urlsplit(self.redis_url)
        targets = {
            "s3": (s3.hostname or "127.0.0.1", s3.port or 80),
            "redis": (redis.hostname or "127.0.0.1", redis.port or 6379),
            "search": (database.hostname or "127.0.0.1", database.port or 5432),
        }
        for name, (host, port) in targets.items():
            self.proxies[name] = FaultProxy(host, port).start()

    def _through(self, backend: str, url: str) -> str:
        proxy = self.proxies.get(backend)
        return proxy.url_for(url) if proxy else url

    async def _migrate(self, service: Service[Any]) -> None:
        log = self.log_dir / f"{service.name}.log"
        await ServiceProcess(
            service.name, "migrate", self.env(service), None, log
        ).run_to_completion()

    async def _spawn(self, service: Service[Any]) -> None:
        env = self.env(service)
        for role, port in zip(("api", "worker"), self.ports[service.name], strict=True):
            log = self.log_dir / f"{service.name}-{role}.log"
            process = ServiceProcess(service.name, role, env, port, log)
            self.processes[process.name] = process
            await process.start()

    def env(self, service: Service[Any]) -> dict[str, str]:
        """A service's settings, as its container would get them."""
        assert self.run is not None
        api_port, worker_port = self.ports[service.name]
        values = {
            "ENVIRONMENT": "dev" if self.dev else "test",
            "DATABASE_URL": self.run.databases[service.name],
            "BUS__AMQP_URL": self.run.amqp_url,
            "BUS__EXCHANGE": "events",
            "BUS__RETRY_TIME_SCALE": str(1 if self.dev else self.retry_time_scale),
            "BUS__RECONNECT_INTERVAL_S": "0.5",
            "SENTRY_DSN": self.sentry.dsn,
            "SENTRY_TRACES_SAMPLE_RATE": "1.0",
            "BUS__DLQ_POLL_INTERVAL_S": "5" if self.dev else "0.5",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(api_port),
            "WORKER_PORT": str(worker_port),
            "ADMIN_PORT": str(self.admin_ports[service.name]),
            "LOG_JSON": "true",
            "LOG_LEVEL": "INFO",
            # Ten processes share one PostgreSQL (100 connections by default): small pools.
            "DB_POOL_SIZE": "4",
            "TOKENS__JWKS_URL": f"{self.url('auth')}/.well-known/jwks.json",
        }
        if "smtp" in service.needs:
            values |= {
                "SMTP__HOST": self.smtp.host,
                "SMTP__PORT": str(self.smtp.port),
                "SMTP__SECURITY": "none",
            }
        if "redis" in service.needs:
            values["REDIS__URL"] = self._through("redis", self.redis_url)
        if "search" in service.needs:
            values["INDEX__DATABASE_URL"] = self._through(
                "search", self.run.databases[service.name]
            )
        if "s3" in service.needs:
            s3 = self.run.s3
            values |= {
                "S3__ENDPOINT_URL": self._through("s3", s3.endpoint_url),
                "S3__ACCESS_KEY": s3.access_key,
                "S3__SECRET_KEY": s3.secret_key,
                "S3__REGION": s3.region,
                "S3__BUCKET": self.run.bucket,
            }
        values |= _local_env(service, LocalRun(self, service))
        values |= self.env_overrides.get(service.name, {})
        prefix = service.name.upper() + "_"
        return {prefix + key: value for key, value in values.items()}

    async def stop(self) -> None:
        # Workers first: they drain their deliveries while the APIs are still up.
        for name in sorted(self.processes, key=lambda n: n.endswith("-api")):
            await self.processes[name].stop()
        if self.prometheus is not None:
            self.prometheus.stop()
            self.prometheus = None
        for proxy in self.proxies.values():
            proxy.stop()
        self.proxies.clear()
        await self.smtp.stop()
        if self._sentry_running:
            self.sentry.__exit__(None, None, None)
            self._sentry_running = False
        if self.run is not None and self.base is not None and not self.dev:
            await self._forget_cache_keys()
            await providers.release(self.provider, self.base, self.run)
        await asyncio.to_thread(self.provider.stop)

    async def _forget_cache_keys(self) -> None:
        """The run's keys in Redis (under the prefixes its services were given) go with it."""
        from redis.asyncio import Redis

        prefixes = {
            value
            for process in self.processes.values()
            for key, value in process.env.items()
            if key.endswith("_REDIS__KEY_PREFIX")
        }
        if not prefixes:
            return
        client = Redis.from_url(self.redis_url)
        try:
            for prefix in prefixes:
                keys = [k async for k in client.scan_iter(f"{prefix}:*")]
                if keys:
                    await client.delete(*keys)
        finally:
            await client.aclose()

    def logs(self, lines: int = 60) -> str:
        return "\n\n".join(p.tail(lines) for p in self.processes.values())


def _local_env(service: Service[Any], run: LocalRun) -> dict[str, str]:
    """The service's own settings for a local run, from `<name>.testing.local_env`, if any."""
    try:
        testing = importlib.import_module(f"{service.name}.testing")
    except ModuleNotFoundError:
        return {}
    hook = getattr(testing, "local_env", None)
    return dict(hook(run)) if hook is not None else {}
