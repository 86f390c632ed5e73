"""Media's declaration: what `python -m media api|worker|all|migrate` runs."""

from __future__ import annotations

from collections.abc import Mapping

from events.contracts import (
    MediaUploadedV1,
    PortfolioCreatedV1,
    PortfolioDeletedV1,
    PortfolioItemAddedV1,
    PortfolioItemRemovedV1,
    PortfolioPurgedV1,
    PortfolioRestoredV1,
    PortfolioUpdatedV1,
)
from media.api import router
from media.config import Settings
from media.container import Container, build
from media.handlers import access, processing, purge
from media.tempfiles import TempArea
from servicekit.http import ReadinessCheck
from servicekit.jobs import Job
from servicekit.service import Listener, Service, Subscribe


def backends(container: Container) -> Mapping[str, ReadinessCheck]:
    """Object storage: reachable and the bucket there (created at first if missing)."""
    return {"storage": container.storage.ensure_bucket}


def temp_sweeper(container: Container) -> TempArea:
    """The worker removes what a crashed process left in the temp folder, at start."""
    return container.temp


SERVICE: Service[Container] = Service(
    name="media",
    description="Uploads validated by content, resized variants, object storage, signed URLs.",
    settings=Settings,
    build=build,
    routers=[router],
    subscriptions=[
        Subscribe(
            "process_upload",
            (MediaUploadedV1,),
            processing.process_upload,
            on_dead_letter=processing.give_up,
        ),
        Subscribe(
            "portfolio_access",
            (
                PortfolioCreatedV1,
                PortfolioUpdatedV1,
                PortfolioDeletedV1,
                PortfolioRestoredV1,
                PortfolioItemAddedV1,
                PortfolioItemRemovedV1,
            ),
            access.project_portfolio,
        ),
        Subscribe("purge", (PortfolioPurgedV1, PortfolioItemRemovedV1), purge.on_removal),
    ],
    jobs=[Job("purge", purge.purge_due, lambda s: s.purge_interval)],
    listeners=[Listener("temp-sweep", temp_sweeper)],
    backends=backends,
    needs=("s3",),
)
