"""`python -m auth api|worker|migrate|all|keygen`: the entry points the image runs."""

from __future__ import annotations

import json
import sys

from auth import bootstrap, keys
from auth.config import Settings
from servicekit import entrypoint


def keygen() -> int:
    """Print a new entry for AUTH_SIGNING_KEYS (prepend it to rotate)."""
    print(json.dumps(keys.to_config(keys.generate())))
    return 0


def main(argv: list[str] | None = None) -> int:
    return entrypoint.main(
        service="auth",
        settings=Settings,
        build=bootstrap.build,
        api_app=bootstrap.api_app,
        worker_app=bootstrap.worker_app,
        migrations_path=entrypoint.migrations_dir("auth", __file__),
        extra={"keygen": keygen},
        argv=argv,
    )


if __name__ == "__main__":
    sys.exit(main())
