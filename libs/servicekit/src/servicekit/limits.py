"""Request bodies read with a cap, refused before they are all in memory."""

from __future__ import annotations

from fastapi import Request

from servicekit.errors import DomainError


class BodyTooLarge(DomainError):
    status, slug, title = 413, "body-too-large", "Content too large"
    detail = "The body is too large."


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
