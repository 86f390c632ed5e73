"""What portfolio's use cases share: access checks, the views they return, the events' states."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from events.contracts import Collaborator as CollaboratorState
from portfolio import permissions
from portfolio.errors import PortfolioNotFound
from portfolio.models import (
    CollaboratorPublic,
    Item,
    ItemPublic,
    Portfolio,
    PortfolioPublic,
)
from portfolio.unit_of_work import PortfolioUnitOfWork

UowFactory = Callable[[], PortfolioUnitOfWork]


@dataclass(frozen=True)
class Access:
    """A portfolio as one caller may see it."""

    portfolio: Portfolio
    collaborators: dict[uuid.UUID, str]
    role: permissions.Role


async def access(
    tx: PortfolioUnitOfWork,
    portfolio_id: uuid.UUID,
    caller: uuid.UUID | None,
    action: permissions.Action,
    *,
    deleted: bool = False,
) -> Access:
    """Load the portfolio and decide: 404 for who may not see it, 403 for who may not act."""
    portfolio = await tx.portfolios.get(portfolio_id, deleted=deleted)
    if portfolio is None:
        raise PortfolioNotFound()
    collaborators = await tx.collaborators.of(portfolio_id)
    role = permissions.role_of(portfolio.owner_id, collaborators, caller)
    permissions.check(role, portfolio.visibility, action)
    return Access(portfolio, collaborators, role)


def collaborator_states(collaborators: dict[uuid.UUID, str]) -> list[CollaboratorState]:
    return [
        CollaboratorState(user_id=user, role=role) for user, role in sorted(collaborators.items())
    ]


def state(portfolio: Portfolio, collaborators: dict[uuid.UUID, str]) -> dict[str, object]:
    """The whole state that created, updated and restored events carry."""
    return {
        "portfolio_id": portfolio.id,
        "owner_id": portfolio.owner_id,
        "version": portfolio.version,
        "title": portfolio.title,
        "slug": portfolio.slug,
        "description": portfolio.description,
        "visibility": portfolio.visibility,
        "collaborators": collaborator_states(collaborators),
    }


def item_state(item: Item, portfolio: Portfolio) -> dict[str, object]:
    return {
        "portfolio_id": portfolio.id,
        "owner_id": portfolio.owner_id,
        "version": portfolio.version,
        "item_id": item.id,
        "item_version": item.version,
        "title": item.title,
        "description": item.description,
        "position": item.position,
        "media_id": item.media_id,
    }


def view(
    portfolio: Portfolio,
    items: list[Item],
    handle: str,
    collaborators: dict[uuid.UUID, str] | None,
) -> PortfolioPublic:
    """What the API answers; collaborators only for the portfolio's members."""
    return PortfolioPublic(
        id=portfolio.id,
        owner_id=portfolio.owner_id,
        owner_handle=handle,
        title=portfolio.title,
        slug=portfolio.slug,
        description=portfolio.description,
        visibility=portfolio.visibility,
        version=portfolio.version,
        created_at=portfolio.created_at,
        updated_at=portfolio.updated_at,
        items=[ItemPublic.of(i) for i in sorted(items, key=lambda i: (i.position, i.id))],
        collaborators=(
            [CollaboratorPublic(user_id=u, role=r) for u, r in sorted(collaborators.items())]
            if collaborators is not None
            else None
        ),
    )


async def full_view(tx: PortfolioUnitOfWork, found: Access) -> PortfolioPublic:
    portfolio = found.portfolio
    owner = await tx.owners.get(portfolio.owner_id)
    items = await tx.items.live(portfolio.id)
    members = found.role in ("owner", "editor", "viewer")
    return view(
        portfolio, items, owner.handle if owner else "", found.collaborators if members else None
    )
