"""Portfolio's dependency aliases: the container, the caller, each use case bound once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from portfolio.container import Container
from portfolio.handlers import collaborators, items, portfolios, public
from portfolio.models import CollaboratorPublic, ItemPublic, PortfolioPage, PortfolioPublic
from servicekit.caller import CallerDep, OptionalCallerDep
from servicekit.concurrency import expected_version
from servicekit.deps import UseCase, container_of, use_case

__all__ = ["CallerDep", "OptionalCallerDep"]

ContainerDep = Annotated[Container, Depends(container_of)]
IfMatch = Annotated[int, Depends(expected_version)]

CreatePortfolio = Annotated[
    UseCase[PortfolioPublic], Depends(use_case(portfolios.create_portfolio))
]
GetPortfolio = Annotated[UseCase[PortfolioPublic], Depends(use_case(portfolios.get_portfolio))]
ListMine = Annotated[UseCase[PortfolioPage], Depends(use_case(portfolios.list_mine))]
UpdatePortfolio = Annotated[
    UseCase[PortfolioPublic], Depends(use_case(portfolios.update_portfolio))
]
DeletePortfolio = Annotated[UseCase[None], Depends(use_case(portfolios.delete_portfolio))]
RestorePortfolio = Annotated[
    UseCase[PortfolioPublic], Depends(use_case(portfolios.restore_portfolio))
]
AddItems = Annotated[UseCase[PortfolioPublic], Depends(use_case(items.add_items))]
UpdateItem = Annotated[UseCase[ItemPublic], Depends(use_case(items.update_item))]
RemoveItem = Annotated[UseCase[None], Depends(use_case(items.remove_item))]
ReorderItems = Annotated[UseCase[PortfolioPublic], Depends(use_case(items.reorder_items))]
SetCollaborator = Annotated[
    UseCase[list[CollaboratorPublic]], Depends(use_case(collaborators.set_collaborator))
]
RemoveCollaborator = Annotated[UseCase[None], Depends(use_case(collaborators.remove_collaborator))]
PublicPage = Annotated[UseCase[bytes], Depends(use_case(public.public_page))]
