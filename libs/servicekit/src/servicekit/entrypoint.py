"""`python -m <service> api|worker|migrate|all`: the same commands, wired the same way, in every
service (and every image's ENTRYPOINT)."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from events.logs import configure_logging
from events.telemetry import init_sentry
from servicekit import migrations
from servicekit.server import serve
from servicekit.settings import ServiceSettings


def migrations_dir(service: str, package_file: str) -> Path:
    """The source tree's migrations; an image installs the package elsewhere and says where
    they are with `<SERVICE>_MIGRATIONS_DIR`."""
    default = Path(package_file).resolve().parents[2] / "migrations"
    return Path(os.environ.get(f"{service.upper()}_MIGRATIONS_DIR", default))


def main(
    *,
    service: str,
    settings: Callable[[], ServiceSettings],
    build: Callable[[Any], Any],
    api_app: Callable[..., FastAPI],
    worker_app: Callable[[Any], FastAPI],
    migrations_path: Path,
    extra: dict[str, Callable[[], int]] | None = None,
    argv: list[str] | None = None,
) -> int:
    extra = extra or {}
    parser = argparse.ArgumentParser(prog=f"python -m {service}")
    parser.add_argument("command", choices=["api", "worker", "migrate", "all", *extra])
    args = parser.parse_args(argv)
    if args.command in extra:
        return extra[args.command]()
    config = settings()
    configure_logging(service, level=config.log_level, json=config.log_json)
    init_sentry(
        config.sentry_dsn.get_secret_value() if config.sentry_dsn else None,
        service=service,
        environment=config.environment,
        release=config.release,
    )
    if args.command == "migrate":
        migrations.upgrade(migrations_path, config.database_url.get_secret_value())
        return 0
    container = build(config)
    worker_port: int = getattr(config, "worker_port", config.http_port + 1000)
    if args.command == "worker":
        asyncio.run(serve(worker_app(container), config.http_host, worker_port))
    else:
        app = api_app(container, consume=args.command == "all")
        asyncio.run(serve(app, config.http_host, config.http_port))
    return 0
