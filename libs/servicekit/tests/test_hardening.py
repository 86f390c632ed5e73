"""The edge every service shares: a body size cap, security headers, no-store on credentials,
metrics only on the ops port, and an OpenAPI document that lists the problems routes answer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import BaseModel

from servicekit.caller import CallerDep
from servicekit.hardening import no_store
from servicekit.http import create_app
from servicekit.problems import MEDIA_TYPE

LIMIT = 2048


class Body(BaseModel):
    text: str


def build() -> FastAPI:
    app = create_app(title="test", max_body_bytes=LIMIT, metrics=False)

    @app.post("/echo")
    async def echo(body: Body) -> dict[str, int]:
        return {"length": len(body.text)}

    @app.post("/token", dependencies=[Depends(no_store)])
    async def token() -> dict[str, str]:
        return {"access_token": "t"}

    @app.get("/mine")
    async def mine(caller: CallerDep) -> dict[str, str]:
        return {"user": str(caller.user_id)}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("internals")

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def test_a_declared_body_past_the_limit_is_refused_before_it_is_read(
    client: httpx.AsyncClient,
) -> None:
    refused = await client.post("/echo", json={"text": "x" * (LIMIT + 10)})
    assert refused.status_code == 413
    assert refused.headers["content-type"] == MEDIA_TYPE
    assert refused.json()["type"].endswith("/body-too-large")
    assert (await client.post("/echo", json={"text": "x" * 100})).json() == {"length": 100}


async def test_a_streamed_body_is_cut_off_where_it_crosses_the_limit(
    client: httpx.AsyncClient,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"text": "'
        for _ in range(10):
            yield b"y" * 512
        yield b'"}'

    refused = await client.post(
        "/echo", content=chunks(), headers={"content-type": "application/json"}
    )
    assert refused.status_code == 413
    assert refused.headers["content-type"] == MEDIA_TYPE
    assert refused.json()["type"].endswith("/body-too-large")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/token", 200),
        ("GET", "/nowhere", 404),
        ("POST", "/echo", 422),
        ("GET", "/boom", 500),
    ],
)
async def test_every_answer_carries_the_security_headers(
    client: httpx.AsyncClient, method: str, path: str, status: int
) -> None:
    response = await client.request(method, path, json={} if method == "POST" else None)
    assert response.status_code == status
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "max-age=" in response.headers["strict-transport-security"]
    assert (
        response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    )


async def test_the_interactive_docs_may_load_their_scripts(client: httpx.AsyncClient) -> None:
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "content-security-policy" not in docs.headers
    assert docs.headers["x-content-type-options"] == "nosniff"


async def test_credentials_are_never_cached(client: httpx.AsyncClient) -> None:
    response = await client.post("/token")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"


async def test_the_public_app_serves_no_metrics_and_the_ops_app_does() -> None:
    public = create_app(title="public", metrics=False)
    ops = create_app(title="ops")
    for app, expected in ((public, 404), (ops, 200)):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as http:
            assert (await http.get("/metrics")).status_code == expected
    documented = ops.openapi()["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert [t.split(";")[0] for t in documented] == ["text/plain"], "not JSON"


def test_openapi_documents_the_problems_raised_outside_the_routes() -> None:
    paths = build().openapi()["paths"]
    echo = paths["/echo"]["post"]["responses"]
    assert set(echo) >= {"200", "413", "422"}
    assert list(echo["422"]["content"]) == [MEDIA_TYPE]
    assert "errors" in echo["422"]["content"][MEDIA_TYPE]["schema"]["properties"]
    assert list(echo["413"]["content"]) == [MEDIA_TYPE]
    assert list(paths["/mine"]["get"]["responses"]["401"]["content"]) == [MEDIA_TYPE]
    assert "401" not in echo, "only routes that need a token say they may refuse one"
    assert "413" not in paths["/mine"]["get"]["responses"], "no body, no body limit"


async def test_a_wrong_method_names_every_method_the_path_answers() -> None:
    app = create_app(title="test")

    @app.get("/things/{thing_id}")
    async def read(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    @app.delete("/things/{thing_id}", status_code=204)
    async def remove(thing_id: str) -> None:
        return None

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        refused = await http.put("/things/7")
    assert refused.status_code == 405
    assert refused.headers["content-type"] == MEDIA_TYPE
    assert refused.headers["allow"] == "DELETE, GET"


async def test_text_the_database_cannot_store_is_a_422_never_a_500(fresh_database: str) -> None:
    from sqlalchemy import text

    from events.db import create_engine

    engine = create_engine(fresh_database)
    app = create_app(title="test")

    @app.post("/notes")
    async def note(body: Body) -> None:
        async with engine.begin() as conn:  # a service that forgot to refuse NUL in its schema
            await conn.execute(text("SELECT CAST(:t AS text)"), {"t": body.text})

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        refused = await http.post("/notes", json={"text": "a\u0000b"})
    await engine.dispose()
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"].endswith("/unstorable-text")
