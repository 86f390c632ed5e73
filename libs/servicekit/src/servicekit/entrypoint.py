"""`python -m <service> api|worker|all|migrate|revision|<command>`: one entry point for every
service and every image's ENTRYPOINT, driven by the service's declaration."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from events.logs import configure_logging
from events.telemetry import init_sentry
from servicekit import migrations
from servicekit.runner import api_app, ops_app_of, worker_app
from servicekit.server import serve
from servicekit.service import Service

ROLES = ("api", "worker", "all", "migrate", "revision")


def main(service: Service[Any], argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {service.name}")
    parser.add_argument("command", choices=[*ROLES, *service.commands])
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments of the command")
    parsed = parser.parse_args(argv)
    if parsed.command in service.commands:
        return service.commands[parsed.command](parsed.args)
    config = service.settings()
    configure_logging(service.name, level=config.log_level, json=config.log_json)
    init_sentry(
        config.sentry_dsn.get_secret_value() if config.sentry_dsn else None,
        service=service.name,
        environment=config.environment,
        release=config.release,
        traces_sample_rate=config.sentry_traces_sample_rate,
    )
    url = config.database_url.get_secret_value()
    if parsed.command == "migrate":
        migrations.upgrade(service, url)
        return 0
    if parsed.command == "revision":
        message = " ".join(parsed.args) or "change"
        migrations.revision(service, url, message)
        return 0
    container = service.build(config)
    if parsed.command == "worker":
        asyncio.run(serve(worker_app(service, container), config.http_host, config.worker_port))
        return 0
    everything = parsed.command == "all"
    app = api_app(service, container, consume=everything)
    # The ops app is where `all` serves the worker's port, and `api` its admin port.
    ops_port = config.worker_port if everything else config.ops_port
    asyncio.run(
        serve(app, config.http_host, config.http_port, (ops_app_of(service, app), ops_port))
    )
    return 0
