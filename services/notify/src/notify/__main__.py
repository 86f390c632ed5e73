"""`python -m notify api|worker|migrate|all`: the entry points the image runs."""

from __future__ import annotations

import sys

from notify import bootstrap
from notify.config import Settings
from servicekit import entrypoint


def main(argv: list[str] | None = None) -> int:
    return entrypoint.main(
        service="notify",
        settings=Settings,
        build=bootstrap.build,
        api_app=bootstrap.api_app,
        worker_app=bootstrap.worker_app,
        migrations_path=entrypoint.migrations_dir("notify", __file__),
        argv=argv,
    )


if __name__ == "__main__":
    sys.exit(main())
