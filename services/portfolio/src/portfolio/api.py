"""Portfolio's HTTP routes: parse, call a bound use case; ETags guard every overwrite."""

from __future__ import annotations

import hashlib
import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status

from portfolio import errors
from portfolio.deps import (
    AddItems,
    CallerDep,
    CreatePortfolio,
    DeletePortfolio,
    GetPortfolio,
    IfMatch,
    ListMine,
    OptionalCallerDep,
    PublicPage,
    RemoveCollaborator,
    RemoveItem,
    ReorderItems,
    RestorePortfolio,
    SetCollaborator,
    UpdateItem,
    UpdatePortfolio,
)
from portfolio.models import (
    CollaboratorPublic,
    CollaboratorSet,
    ItemPublic,
    ItemsCreate,
    ItemUpdate,
    PortfolioCreate,
    PortfolioPage,
    PortfolioPublic,
    PortfolioUpdate,
    Reorder,
)
from servicekit.concurrency import not_modified, set_etag
from servicekit.problems import responses
from servicekit.tokens import InvalidToken, Unauthenticated

router = APIRouter(prefix="/portfolios", tags=["portfolios"])
public = APIRouter(prefix="/public", tags=["public"])

_AUTH = (Unauthenticated, InvalidToken)
_SEE = (*_AUTH, errors.PortfolioNotFound, errors.NotAllowed)
_WRITE = (*_SEE, errors.PreconditionRequired, errors.PreconditionFailed)


def _answer(response: Response, portfolio: PortfolioPublic) -> PortfolioPublic:
    set_etag(response, portfolio.version)
    return portfolio


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a portfolio (verified users)",
    responses=responses(*_AUTH, errors.OwnerNotVerified, errors.SlugTaken),
)
async def create(
    body: PortfolioCreate, caller: CallerDep, response: Response, create: CreatePortfolio
) -> PortfolioPublic:
    portfolio = await create(caller.user_id, body)
    response.headers["Location"] = f"/portfolios/{portfolio.id}"
    return _answer(response, portfolio)


@router.get("", summary="My portfolios, newest first", responses=responses(*_AUTH, 400))
async def mine(
    caller: CallerDep,
    list_mine: ListMine,
    cursor: str | None = None,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
) -> PortfolioPage:
    return await list_mine(caller.user_id, cursor, limit)


@router.get(
    "/{portfolio_id}",
    response_model=PortfolioPublic,
    summary="A portfolio with its items (ETag; If-None-Match answers 304)",
    responses={**responses(errors.PortfolioNotFound, *_AUTH), 304: {"description": "Not modified"}},
)
async def get(
    portfolio_id: uuid.UUID,
    caller: OptionalCallerDep,
    response: Response,
    get_portfolio: GetPortfolio,
    if_none_match: Annotated[str | None, Header()] = None,
) -> PortfolioPublic | Response:
    portfolio = await get_portfolio(caller.user_id if caller else None, portfolio_id)
    if not_modified(if_none_match, portfolio.version):
        return Response(status_code=304, headers={"ETag": f'"v{portfolio.version}"'})
    return _answer(response, portfolio)


@router.patch(
    "/{portfolio_id}",
    summary="Change a portfolio (If-Match required)",
    responses=responses(*_WRITE, errors.SlugTaken),
)
async def update(
    portfolio_id: uuid.UUID,
    body: PortfolioUpdate,
    caller: CallerDep,
    expected: IfMatch,
    response: Response,
    update_portfolio: UpdatePortfolio,
) -> PortfolioPublic:
    return _answer(response, await update_portfolio(caller.user_id, portfolio_id, expected, body))


@router.delete(
    "/{portfolio_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a portfolio (soft: restorable within the retention window; If-Match)",
    responses=responses(*_WRITE),
)
async def delete(
    portfolio_id: uuid.UUID, caller: CallerDep, expected: IfMatch, delete_portfolio: DeletePortfolio
) -> Response:
    await delete_portfolio(caller.user_id, portfolio_id, expected)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{portfolio_id}/restore",
    summary="Bring a deleted portfolio back (owner; within the retention window)",
    responses=responses(*_SEE, errors.NotDeleted, errors.RetentionOver, errors.SlugTaken),
)
async def restore(
    portfolio_id: uuid.UUID, caller: CallerDep, response: Response, restore_it: RestorePortfolio
) -> PortfolioPublic:
    return _answer(response, await restore_it(caller.user_id, portfolio_id))


@router.post(
    "/{portfolio_id}/items",
    status_code=status.HTTP_201_CREATED,
    summary="Add items (all or none)",
    responses=responses(*_SEE, errors.TooManyItems),
)
async def add_items(
    portfolio_id: uuid.UUID, body: ItemsCreate, caller: CallerDep, response: Response, add: AddItems
) -> PortfolioPublic:
    return _answer(response, await add(caller.user_id, portfolio_id, body.items))


@router.patch(
    "/{portfolio_id}/items/{item_id}",
    summary="Change an item (If-Match: the item's ETag)",
    responses=responses(*_WRITE, errors.ItemNotFound),
)
async def update_item(
    portfolio_id: uuid.UUID,
    item_id: uuid.UUID,
    body: ItemUpdate,
    caller: CallerDep,
    expected: IfMatch,
    response: Response,
    update: UpdateItem,
) -> ItemPublic:
    item = await update(caller.user_id, portfolio_id, item_id, expected, body)
    set_etag(response, item.version)
    return item


@router.delete(
    "/{portfolio_id}/items/{item_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove an item (If-Match: the item's ETag)",
    responses=responses(*_WRITE, errors.ItemNotFound),
)
async def remove_item(
    portfolio_id: uuid.UUID,
    item_id: uuid.UUID,
    caller: CallerDep,
    expected: IfMatch,
    remove: RemoveItem,
) -> Response:
    await remove(caller.user_id, portfolio_id, item_id, expected)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/{portfolio_id}/items/order",
    summary="Set every item's position at once (If-Match: the portfolio's ETag)",
    responses=responses(*_WRITE, errors.InvalidOrder),
)
async def reorder(
    portfolio_id: uuid.UUID,
    body: Reorder,
    caller: CallerDep,
    expected: IfMatch,
    response: Response,
    reorder_items: ReorderItems,
) -> PortfolioPublic:
    return _answer(response, await reorder_items(caller.user_id, portfolio_id, expected, body))


@router.put(
    "/{portfolio_id}/collaborators/{user_id}",
    summary="Share the portfolio with someone as editor or viewer (owner)",
    responses=responses(*_SEE, errors.UnknownUser, errors.OwnerIsNotACollaborator),
)
async def set_collaborator(
    portfolio_id: uuid.UUID,
    user_id: uuid.UUID,
    body: CollaboratorSet,
    caller: CallerDep,
    set_it: SetCollaborator,
) -> list[CollaboratorPublic]:
    return await set_it(caller.user_id, portfolio_id, user_id, body.role)


@router.delete(
    "/{portfolio_id}/collaborators/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Stop sharing the portfolio with someone (owner)",
    responses=responses(*_SEE, errors.CollaboratorNotFound),
)
async def remove_collaborator(
    portfolio_id: uuid.UUID, user_id: uuid.UUID, caller: CallerDep, remove: RemoveCollaborator
) -> Response:
    await remove(caller.user_id, portfolio_id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@public.get(
    "/{handle}/{slug}",
    response_model=PortfolioPublic,
    summary="A public or unlisted portfolio, for anyone (cached)",
    responses=responses(errors.PortfolioNotFound),
)
async def page(
    handle: str,
    slug: str,
    public_page: PublicPage,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    body = await public_page(handle, slug)
    tag = '"p-' + hashlib.sha256(body).hexdigest()[:20] + '"'
    headers = {"ETag": tag, "Cache-Control": "public, max-age=30"}
    if if_none_match and tag in [t.strip().removeprefix("W/") for t in if_none_match.split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
