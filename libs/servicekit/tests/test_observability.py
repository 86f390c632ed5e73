"""What an operator sees of requests: a latency histogram by route template and status class,
a 500 in Sentry tagged with the ids to search by, and one trace per request that the events it
causes carry on."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import sentry_sdk
from fastapi import FastAPI

from events import new_event, tracing
from events.contracts import UserVerifiedV1
from events.telemetry import init_sentry
from events.testing import SentryCapture, example, scrape_registry, wait_for
from events.testing.metrics import parse
from servicekit.http import create_app
from servicekit.problems import Problem

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def build() -> FastAPI:
    app = create_app(title="test")

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, str | None]:
        if item_id == 404:
            raise Problem(404, "not-found", "No such item.")
        if item_id == 500:
            raise RuntimeError("the database said no")
        event = new_event(example(UserVerifiedV1), subject=None)
        return {"traceparent": event.traceparent}

    return app


@pytest.fixture
def sentry() -> Iterator[SentryCapture]:
    with SentryCapture() as capture:
        on = init_sentry(
            capture.dsn,
            service="portfolio",
            environment="test",
            release="1.2.3",
            traces_sample_rate=1.0,
        )
        assert on
        try:
            yield capture
        finally:
            sentry_sdk.init()
            tracing.enable(False)


async def get(app: FastAPI, *paths: str, headers: dict[str, str] | None = None) -> list[int]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return [(await client.get(p, headers=headers)).status_code for p in paths]


async def test_latency_is_observed_by_route_template_and_status_class() -> None:
    app = build()
    route = {"method": "GET", "route": "/items/{item_id}"}
    name = "http_request_duration_seconds_count"
    before = scrape_registry()
    statuses = await get(app, "/items/1", "/items/2", "/items/404", "/items/500", "/healthz")
    after = scrape_registry()
    assert statuses == [200, 200, 404, 500, 200]
    for status_class, count in (("2xx", 2), ("4xx", 1), ("5xx", 1)):
        moved = after.total(name, **route, status_class=status_class) - before.total(
            name, **route, status_class=status_class
        )
        assert moved == count, status_class
    assert after.total(name, route="/healthz") == 0, "probes are not traffic"


async def test_a_500_reaches_sentry_tagged_with_service_release_and_request_ids(
    sentry: SentryCapture,
) -> None:
    headers = {"X-Request-ID": "req-500", "X-Correlation-ID": "signup-9"}
    assert await get(build(), "/items/500", headers=headers) == [500]
    sentry_sdk.flush(timeout=5)
    await wait_for(lambda: bool(sentry.events()), timeout=10, message="the 500 in Sentry")
    [event] = sentry.events()
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    assert event["environment"] == "test"
    assert event["release"] == "1.2.3"
    tags = event["tags"]
    assert {k: tags.get(k) for k in ("service", "environment", "release")} == {
        "service": "portfolio",
        "environment": "test",
        "release": "1.2.3",
    }
    assert (tags["request_id"], tags["correlation_id"]) == ("req-500", "signup-9")
    assert sentry.paths == {"/api/1/envelope/"}


async def test_a_request_is_a_transaction_whose_trace_its_events_carry(
    sentry: SentryCapture,
) -> None:
    transport = httpx.ASGITransport(app=build())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        continued = await client.get("/items/7", headers={"traceparent": TRACEPARENT})
        fresh = await client.get("/items/8")
    assert tracing.trace_id_of(continued.json()["traceparent"]) == TRACE_ID
    fresh_trace = tracing.trace_id_of(fresh.json()["traceparent"])
    assert fresh_trace not in (None, TRACE_ID)
    sentry_sdk.flush(timeout=5)
    await wait_for(lambda: len(sentry.transactions()) >= 2, timeout=10, message="2 transactions")
    traces = {t["contexts"]["trace"]["trace_id"]: t for t in sentry.transactions()}
    assert set(traces) == {TRACE_ID, fresh_trace}
    transaction = traces[TRACE_ID]
    assert transaction["transaction"] == "GET /items/{item_id}"
    assert transaction["contexts"]["trace"]["op"] == "http.server"
    assert transaction["contexts"]["trace"]["status"] == "ok"
    assert transaction["tags"]["service"] == "portfolio"
    assert json.dumps(transaction).count("00f067aa0ba902b7") == 1, "the caller's span is the parent"


async def test_metrics_say_whether_the_process_is_ready_and_which_dependency_is_down() -> None:
    broker_up = True

    async def database() -> None:
        return None

    async def broker() -> None:
        if not broker_up:
            raise ConnectionError("broker unreachable")

    app = create_app(title="test", readiness={"database": database, "broker": broker})
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        ready = parse((await client.get("/metrics")).text)
        broker_up = False
        down = parse((await client.get("/metrics")).text)
    assert ready.total("service_ready") == 1
    assert down.total("service_ready") == 0
    assert down.total("service_dependency_up", dependency="database") == 1
    assert down.total("service_dependency_up", dependency="broker") == 0
