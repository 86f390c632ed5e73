"""Collaborators: the owner shares a portfolio with editors and viewers, or stops sharing it."""

from __future__ import annotations

import uuid

from events.contracts import PortfolioUpdatedV1
from events.retrying import retried
from portfolio.errors import CollaboratorNotFound, OwnerIsNotACollaborator, UnknownUser
from portfolio.handlers.common import UowFactory, access, state
from portfolio.models import CollaboratorPublic
from portfolio.unit_of_work import PortfolioUnitOfWork
from servicekit.clock import Clock


async def _publish(tx: PortfolioUnitOfWork, portfolio_id: uuid.UUID, clock: Clock) -> None:
    """Bump the version (the portfolio's representation changed) and say so with its state."""
    now = clock.now()
    portfolio = await tx.portfolios.change(portfolio_id, None, now)
    assert portfolio is not None  # access() found it live in this transaction
    collaborators = await tx.collaborators.of(portfolio_id)
    await tx.publish(
        PortfolioUpdatedV1(
            **state(portfolio, collaborators), changed=["collaborators"], updated_at=now
        ),
        subject=portfolio_id,
    )


@retried
async def set_collaborator(
    caller: uuid.UUID,
    portfolio_id: uuid.UUID,
    user_id: uuid.UUID,
    role: str,
    *,
    uow: UowFactory,
    clock: Clock,
) -> list[CollaboratorPublic]:
    async with uow() as tx:
        found = await access(tx, portfolio_id, caller, "manage_collaborators")
        if user_id == found.portfolio.owner_id:
            raise OwnerIsNotACollaborator()
        if await tx.owners.get(user_id) is None:
            raise UnknownUser()
        await tx.collaborators.set(portfolio_id, user_id, role, clock.now())
        await _publish(tx, portfolio_id, clock)
        members = await tx.collaborators.of(portfolio_id)
        await tx.commit()
    return [CollaboratorPublic(user_id=u, role=r) for u, r in sorted(members.items())]


@retried
async def remove_collaborator(
    caller: uuid.UUID, portfolio_id: uuid.UUID, user_id: uuid.UUID, *, uow: UowFactory, clock: Clock
) -> None:
    async with uow() as tx:
        await access(tx, portfolio_id, caller, "manage_collaborators")
        if not await tx.collaborators.remove(portfolio_id, user_id):
            raise CollaboratorNotFound()
        await _publish(tx, portfolio_id, clock)
        await tx.commit()
