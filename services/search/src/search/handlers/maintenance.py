"""Operators' tools: reconcile the index with the projection, rebuild it without a moment of
empty results. Both read the projection, the search service's own record of what every public
portfolio looks like, fed by the events; the index is rebuilt from it, never the other way."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from events import get_logger
from search.handlers.documents import UowFactory, reindex_one, render
from search.index import SearchDocument, SearchIndex

log = get_logger("search.maintenance")


async def _documents(uow: UowFactory) -> tuple[list[SearchDocument], set[uuid.UUID]]:
    async with uow() as tx:
        documents, hidden = [], set()
        for portfolio in await tx.projection.all_portfolios():
            document = await render(tx, portfolio)
            if document is None:
                hidden.add(portfolio.portfolio_id)
            else:
                documents.append(document)
    return documents, hidden


async def reconcile(*, uow: UowFactory, index: SearchIndex) -> dict[str, int]:
    """Compare what the index holds with what the projection says it should; fix the drift (a
    document missing, stale, or ahead of the projection after a restore; one that should be
    gone). Each fix is a new revision of the portfolio, so later events still apply. Idempotent."""
    documents, _ = await _documents(uow)
    indexed = await index.versions()
    wanted = {d.portfolio_id: d.version for d in documents}
    fixed = {"written": 0, "removed": 0}
    drifted = [p for p, version in wanted.items() if indexed.get(p) != version]
    drifted += [p for p in indexed if p not in wanted]
    for portfolio_id in drifted:
        async with uow() as tx:
            current = await tx.projection.portfolio(portfolio_id)
            if current is None:  # in the index, unknown here: nothing will ever update it
                await index.delete(portfolio_id, indexed[portfolio_id] + 1)
            else:
                locked = await tx.projection.lock(portfolio_id, current.owner_id)
                locked.revision = max(locked.revision, indexed.get(portfolio_id, 0))
                await reindex_one(tx, index, locked)  # the next revision: above the index's
                await tx.commit()
        fixed["written" if portfolio_id in wanted else "removed"] += 1
    log.info("index reconciled", **fixed, indexed=len(indexed), wanted=len(wanted))
    return fixed


async def rebuild(
    progress: Callable[[int, int], None], *, uow: UowFactory, index: SearchIndex
) -> int:
    """A fresh index filled from the projection, then swapped in; returns its documents."""
    documents, _ = await _documents(uow)
    building = await index.begin_rebuild()
    try:
        done = 0
        for start in range(0, len(documents), 500):
            done += await building.add_many(documents[start : start + 500])
            progress(done, len(documents))
        await building.commit()
    except BaseException:
        await building.abort()
        raise
    return done
