"""Domain errors that carry their own problem details (RFC 9457).

A use case raises `EmailTaken()`; the one exception handler in `problems.py` answers with the
status, type and title the class declares. Routes never catch and map: a new error is one class.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

TYPE_BASE = "https://portfolio.example/problems/"


@dataclass(frozen=True)
class ProblemDetails:
    """What a problem+json response says: RFC 9457's members plus headers."""

    status: int
    type: str
    title: str
    detail: str
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)


class DomainError(Exception):
    """Base of every error a use case raises for its caller to see.

    The detail is shown to the user: write it for them, and never put a secret (or another
    person's data) in it.
    """

    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"
    detail: ClassVar[str] = "The request cannot be served."

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or type(self).detail)

    def problem(self) -> ProblemDetails:
        cls = type(self)
        return ProblemDetails(
            cls.status,
            TYPE_BASE + cls.slug,
            cls.title,
            str(self),
            self.headers(),
            self.extensions(),
        )

    def headers(self) -> dict[str, str]:
        """Extra response headers (Retry-After, WWW-Authenticate)."""
        return {}

    def extensions(self) -> dict[str, Any]:
        """Extra members of the problem object, for clients that act on them."""
        return {}


class NotFound(DomainError):
    status, slug, title = 404, "not-found", "Not found"
    detail = "There is nothing here, or you may not see it."


class Forbidden(DomainError):
    status, slug, title = 403, "forbidden", "Forbidden"
    detail = "You may not do this."


class Conflict(DomainError):
    status, slug, title = 409, "conflict", "Conflict"
    detail = "The request conflicts with the current state."


class Unavailable(DomainError):
    """A backend is down: the client should come back after `retry_after_s`."""

    status, slug, title = 503, "unavailable", "Service unavailable"
    detail = "A part of the service is unavailable; try again shortly."

    def __init__(self, detail: str | None = None, *, retry_after_s: int = 5) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class Problem(DomainError):
    """An ad-hoc problem raised at the HTTP edge (a missing header, an oversized body), where no
    domain error class fits; use cases raise their own `DomainError` subclasses instead."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self._details = ProblemDetails(
            status,
            TYPE_BASE + slug,
            title or _TITLES.get(status, "Error"),
            detail,
            headers or {},
            extensions,
        )

    def problem(self) -> ProblemDetails:
        return self._details


_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    412: "Precondition failed",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    428: "Precondition required",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


def title_of(status: int) -> str:
    return _TITLES.get(status, "Error")
