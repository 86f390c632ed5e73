"""Request bodies read with a cap, refused before they are all in memory."""

from __future__ import annotations

from fastapi import Request
from starlette.exceptions import HTTPException

from servicekit.errors import TYPE_BASE, DomainError


class BodyTooLarge(DomainError):
    status, slug, title = 413, "body-too-large", "Content too large"
    detail = "The body is too large."


class BodyLimitExceeded(HTTPException):
    """Raised by the body limit while a route reads its body: an HTTPException, because FastAPI
    turns any other error met while parsing a body into a 400."""

    problem_type = TYPE_BASE + BodyTooLarge.slug

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The body exceeds {limit} bytes.")


async def read_limited(request: Request, limit: int) -> bytes:
    """The raw body (a signature covers these bytes, not a re-encoding), refused past `limit`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"The body exceeds {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"The body exceeds {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)
