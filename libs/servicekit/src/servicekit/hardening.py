"""What every response and request gets at the edge: a body size cap and security headers.

Both are plain ASGI middleware, so they hold for every route (a route that forgets a limit is
still limited) and cost nothing per request beyond a header check.
"""

from __future__ import annotations

from fastapi import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.limits import BodyLimitExceeded, BodyTooLarge
from servicekit.problems import problem_response

DEFAULT_MAX_BODY = 1024 * 1024
"""JSON APIs take kilobytes; a megabyte is generous and still cheap to refuse."""

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
"""OWASP's REST headers. HSTS is ignored by browsers over plain HTTP, so it is safe to send
from behind a TLS-terminating proxy and from local runs alike."""

API_CSP = b"default-src 'none'; frame-ancestors 'none'"
"""JSON is never a document: nothing in it may load or run. The interactive docs (Swagger UI)
load their scripts, so their pages get none (they hold no data)."""
DOCS_PATHS = ("/docs", "/redoc")


class BodyLimitMiddleware:
    """Refuses a request body larger than `limit` bytes with a 413 problem.

    A declared Content-Length over the limit is refused before a byte is read; a chunked body is
    counted as it arrives, and the read that crosses the limit raises `BodyLimitExceeded` (an
    HTTPException, so FastAPI lets it through its body parsing), which the problem handlers
    answer: the route never sees a truncated body.
    """

    def __init__(self, app: ASGIApp, limit: int = DEFAULT_MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            error = BodyTooLarge(f"The body exceeds {self.limit} bytes.").problem()
            response = problem_response(
                413,
                type_=error.type,
                title=error.title,
                detail=error.detail,
                instance=scope["path"],
            )
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyLimitExceeded(self.limit)
            return message

        await self.app(scope, counted, send)


class SecurityHeadersMiddleware:
    """Adds the security headers to every response, errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"].startswith(DOCS_PATHS)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                if not docs and b"content-security-policy" not in present:
                    extra.append((b"content-security-policy", API_CSP))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


def no_store(response: Response) -> None:
    """A route dependency for responses that carry credentials (tokens): never cached, by a
    browser, a proxy or a CDN (RFC 9111 5.2.2.5; OAuth 2.0, RFC 6749 5.1)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
