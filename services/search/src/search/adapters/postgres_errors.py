"""Which database failures mean "the index is unavailable, retry later"."""

from __future__ import annotations

import asyncpg
from sqlalchemy import exc as sa_exc

from search.index import SearchUnavailable

_TRANSIENT: tuple[type[BaseException], ...] = (
    TimeoutError,  # our deadline, asyncpg's command/connect timeout
    OSError,  # refused, reset, unreachable
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # statement timeout, admin shutdown, starting
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.InterfaceError,  # the connection closed under us
    sa_exc.TimeoutError,  # no pooled connection within the deadline
)


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        orig = getattr(current, "orig", None)
        if isinstance(orig, BaseException):
            current = orig
        else:
            current = current.__cause__ or current.__context__
    return seen


def unavailable_from(error: BaseException, deadline_s: float) -> SearchUnavailable | None:
    """A `SearchUnavailable` for a transient failure, None for anything else (a bug: raise it)."""
    if isinstance(error, SearchUnavailable):
        return error
    for link in _chain(error):
        if isinstance(link, sa_exc.DBAPIError) and link.connection_invalidated:
            return SearchUnavailable(f"the search database connection was lost: {link}")
        if isinstance(link, _TRANSIENT):
            what = type(link).__name__
            if isinstance(link, TimeoutError):
                return SearchUnavailable(f"the search database did not answer within {deadline_s}s")
            return SearchUnavailable(f"the search database is unavailable ({what}: {link})")
    return None
