"""The FastAPI app every service starts from: request ids, access logs, limits, security headers,
health, and (on the ops port only) metrics."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

import sentry_sdk
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from pydantic import BaseModel
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from events import tracing
from events.context import Correlation, correlated, new_correlation_id
from events.logs import get_logger
from servicekit import openapi
from servicekit.hardening import DEFAULT_MAX_BODY, BodyLimitMiddleware, SecurityHeadersMiddleware
from servicekit.problems import install_problem_handlers, problem_response

REQUEST_ID = "x-request-id"
CORRELATION_ID = "x-correlation-id"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
log = get_logger("servicekit.http")

TRACEPARENT = "traceparent"
UNTRACKED = frozenset({"/metrics", "/healthz"})
"""Routes scraped and probed every few seconds: counted, they would drown the traffic."""
UNTRACED = UNTRACKED | {"/readyz"}
"""Routes never sent to Sentry as transactions (a probe each second is not performance data)."""

REQUESTS = Counter("http_requests_total", "HTTP requests.", ["method", "route", "status"])
LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency by route template and status class (2xx, 4xx, 5xx).",
    ["method", "route", "status_class"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

READY = Gauge(
    "service_ready", "1 while every dependency /readyz checks is reachable (set at each scrape)."
)
DEPENDENCY_UP = Gauge(
    "service_dependency_up",
    "1 per dependency reachable (a degraded cache counts as down), set at each scrape.",
    ["dependency"],
)

ReadinessCheck = Callable[[], Awaitable[None]]
"""Raises (with a message) when a dependency the service needs is not reachable."""


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


class Degraded(Exception):
    """Raised by a readiness check whose dependency is down but not needed to serve (a cache):
    reported, while the service stays ready."""


def _route_template(app: ASGIApp, scope: Scope) -> str:
    """The matched route's path template: bounded label cardinality for metrics."""
    for route in getattr(app, "routes", []):
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return str(getattr(route, "path", scope["path"]))
    return "unmatched"


class RequestContextMiddleware:
    """Gives each request an id and a correlation id that every event it causes carries.

    The request id is X-Request-ID or a new one. The correlation id is X-Correlation-ID when a
    client ties several requests into one workflow (register, then verify, then log in), else the
    request id. Both are echoed in the response and bound to every log line.
    """

    def __init__(self, app: ASGIApp, router_app: FastAPI) -> None:
        self.app = app
        self.router_app = router_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(REQUEST_ID.encode(), b"").decode("latin-1")
        request_id = given if _SAFE_ID.match(given) else new_correlation_id()
        asked = headers.get(CORRELATION_ID.encode(), b"").decode("latin-1")
        correlation_id = asked if _SAFE_ID.match(asked) else request_id
        route = _route_template(self.router_app, scope)
        method = scope["method"]
        traceparent = headers.get(TRACEPARENT.encode(), b"").decode("latin-1")
        status = 500
        responded = False
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status = message["status"]
                responded = True
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (REQUEST_ID.encode(), request_id.encode()),
                    (CORRELATION_ID.encode(), correlation_id.encode()),
                ]
            await send(message)

        tags = {"request_id": request_id, "correlation_id": correlation_id, "route": route}
        with (
            tracing.transaction(
                "http.server", f"{method} {route}", traceparent, tags, record=route not in UNTRACED
            ) as trace,
            correlated(Correlation(correlation_id, traceparent=trace), request_id=request_id),
        ):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as exc:
                # Answered here, inside the request's context, so the 500 carries the request id
                # an operator will search the logs and Sentry for.
                log.exception("unhandled error", route=route)
                sentry_sdk.capture_exception(exc)
                if responded:
                    raise
                response = problem_response(
                    500,
                    type_="about:blank",
                    title="Internal server error",
                    detail="Something went wrong on our side; the request id identifies it.",
                    instance=scope["path"],
                )
                await response(scope, receive, send_with_id)
            finally:
                elapsed = time.perf_counter() - started
                tracing.set_http_status(status)
                if route not in UNTRACKED:
                    REQUESTS.labels(method, route, str(status)).inc()
                    LATENCY.labels(method, route, f"{status // 100}xx").observe(elapsed)
                    log.info(
                        "request",
                        method=method,
                        route=route,
                        status=status,
                        duration_ms=round(elapsed * 1000, 2),
                    )


async def _check(checks: Mapping[str, ReadinessCheck]) -> tuple[bool, dict[str, str]]:
    """Run every readiness check: (all required ones pass, each one's result)."""
    results: dict[str, str] = {}
    ok = True
    for name, check in checks.items():
        try:
            await check()
            results[name] = "ok"
        except Degraded as exc:
            results[name] = f"degraded: {exc}"[:300]
        except Exception as exc:
            ok = False
            results[name] = f"failing: {exc}"[:300]
    return ok, results


def create_app(
    *,
    title: str,
    version: str = "1.0.0",
    description: str = "",
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[Any]] | None = None,
    readiness: Mapping[str, ReadinessCheck] | Callable[[], Mapping[str, ReadinessCheck]] = {},  # noqa: B006
    metrics: bool = True,
    max_body_bytes: int = DEFAULT_MAX_BODY,
) -> FastAPI:
    """A FastAPI app with problem details, request ids, limits, security headers and health.

    `readiness` maps a dependency's name to its check; it may be a callable returning the map, for
    checks built in the lifespan (after the app object exists). `metrics` serves /metrics: the
    runner turns it off on the public API (the ops port serves it), so request counts and the
    bus's vital signs are not published to the internet.
    """
    app = FastAPI(title=title, version=version, description=description, lifespan=lifespan)
    install_problem_handlers(app)
    openapi.install(app)
    # The last added is outermost: security headers go on every answer (the request context's
    # own 500 included), and a refusal by the body limit still carries a request id.
    app.add_middleware(BodyLimitMiddleware, limit=max_body_bytes)
    app.add_middleware(RequestContextMiddleware, router_app=app)
    app.add_middleware(SecurityHeadersMiddleware)

    @app.get("/healthz", tags=["operations"], summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Database, broker and backends reachable",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "A dependency is failing"}},
    )
    async def readyz() -> JSONResponse:
        ok, results = await _check(readiness() if callable(readiness) else readiness)
        degraded = any(r.startswith("degraded") for r in results.values())
        status = ("degraded" if degraded else "ready") if ok else "not ready"
        return JSONResponse(
            {"status": status, "checks": results},
            status_code=200 if ok else 503,
        )

    if metrics:

        @app.get(
            "/metrics",
            tags=["operations"],
            summary="Prometheus metrics",
            response_class=Response,
            responses={
                200: {
                    "description": "The Prometheus text exposition format",
                    "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
                }
            },
        )
        async def prometheus_metrics() -> Response:
            # Readiness is measured here too, so an alert sees a process that is up but cannot
            # reach its database or broker (Prometheus scrapes metrics, not /readyz).
            ok, results = await _check(readiness() if callable(readiness) else readiness)
            READY.set(1 if ok else 0)
            for name, result in results.items():
                DEPENDENCY_UP.labels(name).set(1 if result == "ok" else 0)
            return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
