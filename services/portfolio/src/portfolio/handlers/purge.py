"""The purge job: portfolios deleted longer ago than the retention window go for good.

The database cascades to their items and collaborators (ON DELETE CASCADE); portfolio.purged.v1
tells media which objects to delete. Rows are claimed with SKIP LOCKED, so replicas may run the
job side by side; each portfolio is purged in its own transaction with its event.
"""

from __future__ import annotations

from events import get_logger
from events.contracts import PortfolioPurgedV1
from portfolio.config import Settings
from portfolio.handlers.common import UowFactory
from servicekit.clock import Clock

log = get_logger("portfolio.purge")
BATCH = 50


async def purge_expired(*, uow: UowFactory, clock: Clock, settings: Settings) -> int:
    """Purge what expired; returns how many portfolios went."""
    purged = 0
    while True:
        now = clock.now()
        async with uow() as tx:
            expired = await tx.portfolios.deleted_before(now - settings.retention, 1)
            if not expired:
                return purged
            portfolio = expired[0]
            items = await tx.items.all_of(portfolio.id)
            await tx.portfolios.purge(portfolio.id)
            await tx.publish(
                PortfolioPurgedV1(
                    portfolio_id=portfolio.id,
                    owner_id=portfolio.owner_id,
                    version=portfolio.version + 1,
                    item_ids=[i.id for i in items],
                    media_ids=[i.media_id for i in items if i.media_id is not None],
                    purged_at=now,
                ),
                subject=portfolio.id,
            )
            await tx.commit()
        purged += 1
        log.info("portfolio purged", portfolio_id=str(portfolio.id), items=len(items))
        if purged >= BATCH:
            return purged
