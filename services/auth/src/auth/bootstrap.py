"""Auth's declaration: what servicekit runs for `python -m auth api|worker|all|migrate|keygen`."""

from __future__ import annotations

import json

from auth import keys
from auth.api import router, wellknown
from auth.config import Settings
from auth.container import Container, build
from auth.handlers import email_status, retention
from events.contracts import (
    EmailBouncedV1,
    EmailFailedV1,
    EmailSentV1,
    EmailSuppressionLiftedV1,
)
from servicekit.jobs import Job
from servicekit.service import Service, Subscribe


def keygen(_: list[str]) -> int:
    """Print a new entry for AUTH_SIGNING_KEYS (prepend it to rotate)."""
    print(json.dumps(keys.to_config(keys.generate())))
    return 0


SERVICE: Service[Container] = Service(
    name="auth",
    description="Registration, email verification, login, sessions and the JWKS.",
    settings=Settings,
    build=build,
    routers=[router, wellknown],
    subscriptions=[
        Subscribe(
            "email_status",
            (EmailSentV1, EmailFailedV1, EmailBouncedV1, EmailSuppressionLiftedV1),
            email_status.record_email_outcome,
        ),
    ],
    jobs=[Job("retention", retention.prune_expired, lambda s: s.prune_interval)],
    commands={"keygen": keygen},
)
