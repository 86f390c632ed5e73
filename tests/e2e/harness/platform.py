"""The platform of one run: infrastructure from a provider, then every service's migrate, api and
worker as processes, an SMTP server the tests read back, and a local Sentry endpoint.

`python -m tests.e2e.harness.platform` runs it for a person (`just up`): local servers, fixed
ports, until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from events.infra import free_port
from events.testing import SentryCapture
from tests.e2e.harness import providers
from tests.e2e.harness.keys import WebhookKey, signing_keys
from tests.e2e.harness.processes import ServiceProcess

SERVICES = ("auth", "notify")
DEV_PORTS = {"auth": (8001, 9001), "notify": (8004, 9004)}
LOG_ROOT = providers.ROOT / ".e2e"
# The email policy (1 min .. 6 h) shrunk 3000 times: 20 ms .. 7.2 s, a 29 s budget.
E2E_RETRY_SCALE = float(os.environ.get("E2E_RETRY_TIME_SCALE", str(1 / 3000)))


@dataclass
class Platform:
    provider: providers.Provider
    retry_time_scale: float = E2E_RETRY_SCALE
    dev: bool = False
    services: tuple[str, ...] = SERVICES
    base: providers.Infra | None = None
    run: providers.RunResources | None = None
    processes: dict[str, ServiceProcess] = field(default_factory=dict)
    smtp: Any = None
    sentry: SentryCapture | None = None
    webhook_key: WebhookKey = field(default_factory=WebhookKey)

    @property
    def log_dir(self) -> Path:
        return LOG_ROOT / (self.run.run_id if self.run else "pending")

    def url(self, service: str) -> str:
        return self.processes[f"{service}-api"].url

    def worker(self, service: str) -> ServiceProcess:
        return self.processes[f"{service}-worker"]

    async def start(self) -> None:
        self.base = await asyncio.to_thread(self.provider.start)
        self.run = await providers.allocate(
            self.provider, self.base, list(self.services), run_id="dev" if self.dev else None
        )
        from notify.testing import SmtpServer

        self.smtp = SmtpServer(port=1025 if self.dev else 0)
        await self.smtp.start()
        self.sentry = SentryCapture().__enter__()
        try:
            for service in self.services:
                await self._start_service(service)
        except BaseException:
            await self.stop()
            raise

    async def _start_service(self, service: str) -> None:
        api_port, worker_port = DEV_PORTS[service] if self.dev else (free_port(), free_port())
        env = self.env(service, api_port, worker_port)
        migrate = ServiceProcess(service, "migrate", env, None, self.log_dir / f"{service}.log")
        await migrate.run_to_completion()
        for role, port in (("api", api_port), ("worker", worker_port)):
            process = ServiceProcess(
                service, role, env, port, self.log_dir / f"{service}-{role}.log"
            )
            self.processes[process.name] = process
            await process.start()
        for role in ("api", "worker"):
            await self.processes[f"{service}-{role}"].wait_ready()

    def env(self, service: str, api_port: int, worker_port: int) -> dict[str, str]:
        """Each service's settings, as its container would get them."""
        assert self.run is not None
        assert self.sentry is not None
        prefix = service.upper() + "_"
        common = {
            "ENVIRONMENT": "dev" if self.dev else "test",
            "DATABASE_URL": self.run.databases[service],
            "BUS__AMQP_URL": self.run.amqp_url,
            "BUS__EXCHANGE": "events",
            "BUS__RETRY_TIME_SCALE": str(1 if self.dev else self.retry_time_scale),
            "BUS__RECONNECT_INTERVAL_S": "0.5",
            "SENTRY_DSN": self.sentry.dsn,
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(api_port),
            "WORKER_PORT": str(worker_port),
            "LOG_JSON": "true",
            "LOG_LEVEL": "INFO",
        }
        specific: dict[str, str] = {}
        if service == "auth":
            specific = {"SIGNING_KEYS": signing_keys()}
        elif service == "notify":
            specific = {
                "TRANSPORT": "smtp",
                "SMTP__HOST": "127.0.0.1",
                "SMTP__PORT": str(self.smtp.port),
                "SMTP__SECURITY": "none",
                "FROM_ADDRESS": "Portfolio <hello@portfolio.test>",
                "BOUNCE_ADDRESS": "bounces@portfolio.test",
                "VERIFY_URL_BASE": "http://app.portfolio.test/verify",
                "WEBHOOK_PUBLIC_KEY": self.webhook_key.public_b64,
                "JWKS_URL": f"{self._auth_url()}/.well-known/jwks.json",
                "UNSUBSCRIBE_SECRET": secrets.token_urlsafe(24),
                "BOUNCE__HOST": "127.0.0.1",
                "BOUNCE__PORT": str(2525 if self.dev else free_port()),
            }
        return {prefix + key: value for key, value in {**common, **specific}.items()}

    def _auth_url(self) -> str:
        process = self.processes.get("auth-api")
        return process.url if process else "http://127.0.0.1:8001"

    async def stop(self) -> None:
        # Workers first: they drain their deliveries while the APIs are still up.
        for name in sorted(self.processes, key=lambda n: n.endswith("-api")):
            await self.processes[name].stop()
        if self.smtp is not None:
            await self.smtp.stop()
        if self.sentry is not None:
            self.sentry.__exit__(None, None, None)
        if self.run is not None and self.base is not None and not self.dev:
            await providers.release(self.provider, self.base, self.run)
        await asyncio.to_thread(self.provider.stop)

    def logs(self, lines: int = 60) -> str:
        return "\n\n".join(p.tail(lines) for p in self.processes.values())


async def _serve_forever(platform: Platform) -> None:
    await platform.start()
    for name, process in platform.processes.items():
        print(f"{name:16} {process.url}   log: {process.log_path}")
    sentry = platform.sentry.dsn if platform.sentry else "-"
    print(f"SMTP catcher     127.0.0.1:{platform.smtp.port}   Sentry endpoint: {sentry}")
    mailbox = platform.log_dir / "mail"
    mailbox.mkdir(parents=True, exist_ok=True)
    print(f"Mail received by the catcher is written to {mailbox}/. Ctrl-C stops everything.")
    stop = asyncio.Event()
    keeper = asyncio.create_task(_keep_mail(platform, mailbox, stop))
    loop = asyncio.get_running_loop()
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await keeper
        await platform.stop()


async def _keep_mail(platform: Platform, mailbox: Path, stop: asyncio.Event) -> None:
    """Write each mail the catcher receives as an .eml file a person can open."""
    written = 0
    while not stop.is_set():
        for mail in platform.smtp.messages[written:]:
            written += 1
            path = mailbox / f"{written:04d}-{mail.recipients[0]}.eml"
            path.write_bytes(mail.message.as_bytes())
            print(f"mail to {', '.join(mail.recipients)}: {mail.message['Subject']}  ({path})")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the platform locally (`just up`).")
    parser.add_argument("--infra", default="local", help="local | containers | auto")
    args = parser.parse_args()
    platform = Platform(providers.choose(args.infra), dev=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(platform))


if __name__ == "__main__":
    main()
