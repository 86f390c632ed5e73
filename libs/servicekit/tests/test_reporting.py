"""What reaches Sentry and the logs when a request fails: the error, never the secrets or the
personal data that were in the request or in the failing statement's parameters."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import sentry_sdk
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from events.db import create_engine
from events.logs import configure_logging
from events.telemetry import init_sentry
from events.testing import SentryCapture, wait_for
from servicekit.http import create_app

EMAIL = "ada.lovelace@example.org"
REFRESH = "rt-9f8e7d6c5b4a39281706"
PASSWORD = "correct horse battery staple"
BEARER = "eyJhbGciOiJFZERTQSJ9.secret-claims.sig"
COOKIE = "session=cookie-secret-42"
SECRETS = (EMAIL, REFRESH, PASSWORD, BEARER, "cookie-secret-42")


class Login(BaseModel):
    email: str
    password: str
    refresh_token: str


@pytest.fixture
def sentry() -> Iterator[SentryCapture]:
    with SentryCapture() as capture:
        assert init_sentry(capture.dsn, service="test", environment="test")
        try:
            yield capture
        finally:
            sentry_sdk.init()  # off again for the tests that follow


@pytest.fixture
async def engine(fresh_database: str) -> AsyncIterator[AsyncEngine]:
    built = create_engine(fresh_database)
    yield built
    await built.dispose()


def app_failing_with(engine: AsyncEngine) -> FastAPI:
    app = create_app(title="test")

    @app.post("/login")
    async def login(body: Login) -> None:
        raise RuntimeError(f"cannot log in {body.email}")  # the address is blanked in text too

    @app.post("/lookup")
    async def lookup(body: Login) -> None:
        async with engine.connect() as conn:  # a statement whose parameter is personal data
            await conn.execute(text("SELECT CAST(:email AS integer)"), {"email": body.email})

    return app


async def post(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post(
            path,
            json={"email": EMAIL, "password": PASSWORD, "refresh_token": REFRESH},
            headers={"Authorization": f"Bearer {BEARER}", "Cookie": COOKIE},
        )


async def captured(sentry: SentryCapture, count: int) -> str:
    sentry_sdk.flush(timeout=5)
    await wait_for(lambda: len(sentry.events()) >= count, timeout=10, message="a Sentry event")
    return json.dumps(sentry.events())


async def test_a_500_reaches_sentry_with_its_request_scrubbed_by_field_name(
    sentry: SentryCapture, engine: AsyncEngine
) -> None:
    response = await post(app_failing_with(engine), "/login")
    assert response.status_code == 500
    sent = await captured(sentry, 1)
    assert "RuntimeError" in sent, "the error itself is reported"
    leaked = [s for s in SECRETS if s in sent]
    assert leaked == [], f"reached Sentry: {leaked}"
    assert "[Filtered]" in sent


async def test_a_database_error_names_its_statement_never_its_parameters(
    sentry: SentryCapture,
    engine: AsyncEngine,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    configure_logging("test", json=True)
    caplog.set_level(logging.INFO)
    response = await post(app_failing_with(engine), "/lookup")
    assert response.status_code == 500
    sent = await captured(sentry, 1)
    assert "SELECT CAST" in sent
    assert EMAIL not in sent
    logs = capsys.readouterr().out + caplog.text
    assert "unhandled error" in logs
    assert "SELECT CAST" in logs
    assert EMAIL not in logs, "a statement's parameter reached the logs"


async def test_engines_hide_parameters_from_their_errors(engine: AsyncEngine) -> None:
    with pytest.raises(DBAPIError) as caught:
        async with engine.connect() as conn:  # the server's error does not quote the value
            await conn.execute(text("SELECT CAST(:email AS text), 1 / 0"), {"email": EMAIL})
    rendered = "".join(traceback.format_exception(caught.value))
    assert "SQL parameters hidden" in rendered
    assert EMAIL not in rendered
