"""What search refuses; each error carries the problem it answers with."""

from __future__ import annotations

from servicekit.errors import DomainError, Unavailable


class QueryRefused(DomainError):
    status, slug, title = 400, "invalid-query", "Bad request"
    detail = "This query cannot be run."


class IndexDown(Unavailable):
    slug = "search-unavailable"
    detail = "Search is unavailable right now; try again shortly."


class TooManyQueries(DomainError):
    status, slug, title = 429, "too-many-queries", "Too many requests"
    detail = "Slow down: too many searches from your address."

    def __init__(self, retry_after_s: int) -> None:
        super().__init__()
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}
