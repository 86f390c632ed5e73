"""`python -m auth api|worker|migrate|all|keygen`: the entry points the image runs."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from auth import bootstrap, keys
from auth.config import Settings
from events.logs import configure_logging
from events.telemetry import init_sentry
from servicekit import migrations
from servicekit.server import serve

# The source tree's migrations; an image installs the package elsewhere and says where they are.
MIGRATIONS = Path(
    os.environ.get("AUTH_MIGRATIONS_DIR", Path(__file__).resolve().parents[2] / "migrations")
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m auth", description=__doc__)
    parser.add_argument("command", choices=["api", "worker", "migrate", "all", "keygen"])
    args = parser.parse_args(argv)
    if args.command == "keygen":
        # A new entry for AUTH_SIGNING_KEYS: prepend it to rotate.
        print(json.dumps(keys.to_config(keys.generate())))
        return 0
    settings = Settings()
    configure_logging("auth", level=settings.log_level, json=settings.log_json)
    init_sentry(
        settings.sentry_dsn.get_secret_value() if settings.sentry_dsn else None,
        service="auth",
        environment=settings.environment,
        release=settings.release,
    )
    if args.command == "migrate":
        migrations.upgrade(MIGRATIONS, settings.database_url.get_secret_value())
        return 0
    container = bootstrap.build(settings)
    if args.command == "worker":
        app = bootstrap.worker_app(container)
        asyncio.run(serve(app, settings.http_host, settings.worker_port))
    else:
        app = bootstrap.api_app(container, consume=args.command == "all")
        asyncio.run(serve(app, settings.http_host, settings.http_port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
