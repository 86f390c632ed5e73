"""The shared app: problem details for every refusal, request ids as correlation ids, health."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from events import current, new_event
from events.contracts import UserVerifiedV1
from events.testing import example
from servicekit.http import Degraded, create_app
from servicekit.problems import MEDIA_TYPE, Problem


class Body(BaseModel):
    name: str
    age: int


def build() -> FastAPI:
    async def failing() -> None:
        raise ConnectionError("database unreachable")

    async def fine() -> None:
        return None

    app = create_app(title="test", readiness={"database": fine, "broker": failing})

    @app.post("/things")
    async def create(body: Body) -> dict[str, str]:
        event = new_event(example(UserVerifiedV1), subject=None)
        return {"correlation": event.correlationid}

    @app.get("/conflict")
    async def conflict() -> None:
        raise Problem(409, "email-taken", "That email is registered.", field="email")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    @app.get("/whoami")
    async def whoami() -> dict[str, str | None]:
        c = current()
        return {"correlation": c.correlation_id if c else None}

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_invalid_input_is_a_problem_listing_each_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/things", json={"age": "old"})
    assert response.status_code == 422
    assert response.headers["content-type"] == MEDIA_TYPE
    body = response.json()
    assert body["type"].endswith("/validation")
    assert body["status"] == 422
    assert {tuple(e["location"]) for e in body["errors"]} == {("body", "name"), ("body", "age")}
    assert "body.name" in body["detail"]


async def test_a_domain_refusal_keeps_its_type_and_extensions(client: httpx.AsyncClient) -> None:
    response = await client.get("/conflict")
    assert response.status_code == 409
    assert response.json() == {
        "type": "https://portfolio.example/problems/email-taken",
        "title": "Conflict",
        "status": 409,
        "detail": "That email is registered.",
        "instance": "/conflict",
        "field": "email",
    }


async def test_an_unhandled_error_hides_its_internals(client: httpx.AsyncClient) -> None:
    response = await client.get("/boom")
    assert response.status_code == 500
    assert "secret" not in response.text
    assert response.headers["x-request-id"]


async def test_unknown_routes_are_problems_too(client: httpx.AsyncClient) -> None:
    response = await client.get("/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == MEDIA_TYPE


async def test_the_request_id_becomes_the_correlation_id(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/things", json={"name": "a", "age": 3}, headers={"X-Request-ID": "req-123"}
    )
    assert response.json() == {"correlation": "req-123"}
    assert response.headers["x-request-id"] == "req-123"
    fresh = await client.get("/whoami")
    assert fresh.json()["correlation"] == fresh.headers["x-request-id"]
    workflow = await client.post(
        "/things",
        json={"name": "a", "age": 3},
        headers={"X-Correlation-ID": "signup-7", "X-Request-ID": "r-2"},
    )
    assert workflow.json() == {"correlation": "signup-7"}
    assert workflow.headers["x-request-id"] == "r-2"
    assert workflow.headers["x-correlation-id"] == "signup-7"
    hostile = await client.get("/whoami", headers={"X-Request-ID": "bad id\nwith newline"})
    assert hostile.json()["correlation"] != "bad id\nwith newline"


async def test_readiness_names_the_failing_dependency(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": "ok", "broker": "failing: database unreachable"}


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/conflict")
    metrics = (await client.get("/metrics")).text
    assert 'http_requests_total{method="GET",route="/conflict",status="409"}' in metrics


async def test_a_degraded_dependency_is_reported_while_the_service_stays_ready() -> None:
    async def fine() -> None:
        return None

    async def cache() -> None:
        raise Degraded("cache unreachable; reads come from the database")

    app = create_app(title="test", readiness={"database": fine, "cache": cache})
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "degraded",
        "checks": {
            "database": "ok",
            "cache": "degraded: cache unreachable; reads come from the database",
        },
    }
