"""Portfolio's declaration: what `python -m portfolio api|worker|all|migrate` runs."""

from __future__ import annotations

from collections.abc import Mapping

from events.catalog import PORTFOLIO_EVENTS
from events.contracts import MediaFailedV1, MediaProcessedV1, UserRegisteredV1, UserVerifiedV1
from portfolio.api import public, router
from portfolio.config import Settings
from portfolio.container import Container, build
from portfolio.handlers import cache, media_status, owners, purge
from servicekit.http import ReadinessCheck
from servicekit.jobs import Job
from servicekit.service import Service, Subscribe


def backends(container: Container) -> Mapping[str, ReadinessCheck]:
    """The cache is reported (degraded while down) but never fails readiness."""
    return {"cache": container.cache.check}


SERVICE: Service[Container] = Service(
    name="portfolio",
    description="Portfolios and their items: permissions, optimistic locking, soft deletes.",
    settings=Settings,
    build=build,
    routers=[router, public],
    subscriptions=[
        Subscribe("owners", (UserRegisteredV1, UserVerifiedV1), owners.record_owner),
        Subscribe(
            "media_status", (MediaProcessedV1, MediaFailedV1), media_status.apply_media_report
        ),
        Subscribe("cache", PORTFOLIO_EVENTS, cache.clear_cached_page),
    ],
    jobs=[Job("purge", purge.purge_expired, lambda s: s.purge_interval)],
    backends=backends,
    needs=("redis",),
)
