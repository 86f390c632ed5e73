"""Search's HTTP route: anonymous queries over public portfolios."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from search import errors
from search.deps import RateLimited, Search
from search.models import ResultsPublic
from servicekit.problems import responses

router = APIRouter(tags=["search"])


@router.get(
    "/search",
    summary="Public portfolios by words of their titles, descriptions, items and owner",
    responses=responses(errors.QueryRefused, errors.TooManyQueries, errors.IndexDown),
)
async def search(
    _: RateLimited,
    search_portfolios: Search,
    q: Annotated[str, Query(max_length=200)] = "",
    owner: uuid.UUID | None = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int | None, Query(ge=1, le=50)] = None,
) -> ResultsPublic:
    return await search_portfolios(q, owner, cursor, limit)
