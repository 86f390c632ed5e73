"""`python -m servicekit.healthcheck <service>`: the images' HEALTHCHECK.

Liveness of whichever role the container runs: `api` and `all` answer on the HTTP port, the
worker on its own; either answering is healthy. Readiness (/readyz: database, broker, backends)
is the orchestrator's probe, since a process must not be restarted for an outage it cannot fix.
"""

from __future__ import annotations

import os
import sys
import urllib.request


def main(argv: list[str]) -> int:
    prefix = argv[0].upper() + "_" if argv else ""
    for variable, default in (("HTTP_PORT", "8000"), ("WORKER_PORT", "9000")):
        port = os.environ.get(prefix + variable, default)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3):
                return 0
        except OSError:
            continue
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
