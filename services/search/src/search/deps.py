"""Search's dependency aliases: the container, the rate limit, the query bound once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from search.container import Container
from search.errors import TooManyQueries
from search.handlers import queries
from search.models import ResultsPublic
from servicekit.deps import UseCase, container_of, use_case

ContainerDep = Annotated[Container, Depends(container_of)]


def rate_limited(request: Request) -> None:
    """Anonymous queries are limited per client address (429 with Retry-After past it)."""
    container: Container = request.app.state.container
    address = request.client.host if request.client else "unknown"
    wait = container.limiter.retry_after(address)
    if wait:
        raise TooManyQueries(wait)


RateLimited = Annotated[None, Depends(rate_limited)]
Search = Annotated[UseCase[ResultsPublic], Depends(use_case(queries.search_portfolios))]
