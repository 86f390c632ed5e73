"""Outages on the whole platform, each backend really taken away (a fault proxy in front of it
refuses connections) while the services keep running: storage cut mid-pipeline, storage down
past the retry budget, the search index down while portfolios change, the cache down."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from devkit.platform import Platform
from events.connection import connect
from events.dlq import DeadLetterQueues
from events.settings import BusSettings
from events.testing import EventTap, wait_for
from media.testing import write_jpeg
from tests.e2e.flows import query
from tests.e2e.people import studio


async def upload(media: httpx.AsyncClient, item: str, path: Path, headers: dict[str, str]) -> str:
    with path.open("rb") as file:
        answer = await media.post(
            f"/media?item_id={item}", files={"file": (path.name, file)}, headers=headers
        )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def attempts_logged(platform: Platform, event_id: str) -> list[int]:
    """The attempts the media worker scheduled for one event (from its JSON logs)."""
    return [
        int(r["next_attempt"])
        for r in platform.worker("media").log_records()
        if r.get("event") == "retry scheduled" and r.get("event_id") == event_id
    ]


async def published(platform: Platform, media_id: str, event_type: str) -> int:
    rows = await query(
        platform,
        "media",
        "SELECT 1 FROM outbox WHERE event_type = $1 AND envelope->>'subject' = $2",
        event_type,
        media_id,
    )
    return len(rows)


async def test_storage_cut_mid_pipeline_is_retried_and_processed_once(
    platform: Platform,
    tap: EventTap,
    auth: httpx.AsyncClient,
    portfolio: httpx.AsyncClient,
    media: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    place = await studio(platform, tap, auth, portfolio)
    photo = write_jpeg(tmp_path / "big.jpg", (4000, 3000))  # renders for a while
    media_id = await upload(media, place.items[0]["id"], photo, place.owner.headers)
    s3 = platform.proxies["s3"]
    s3.refuse()
    try:
        uploaded = await tap.wait_for("media.uploaded.v1", lambda e: e.subject == media_id)
        await wait_for(
            lambda: len(attempts_logged(platform, str(uploaded.id))) >= 2,
            timeout=30,
            message="the worker retried on the ladder",
        )
    finally:
        s3.restore()
    assert attempts_logged(platform, str(uploaded.id))[:2] == [2, 3], "x-attempt grows"
    await tap.wait_for("media.processed.v1", lambda e: e.subject == media_id, timeout=60)
    assert await published(platform, media_id, "media.processed.v1") == 1, "processed once"


async def test_storage_down_past_the_budget_parks_alerts_and_a_replay_processes_once(
    platform: Platform,
    tap: EventTap,
    auth: httpx.AsyncClient,
    portfolio: httpx.AsyncClient,
    media: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    place = await studio(platform, tap, auth, portfolio)
    media_id = await upload(
        media,
        place.items[0]["id"],
        write_jpeg(tmp_path / "p.jpg", (4000, 3000)),
        place.owner.headers,
    )
    s3 = platform.proxies["s3"]
    s3.refuse()
    assert platform.run is not None
    connection = await connect(BusSettings(amqp_url=SecretStr(platform.run.amqp_url)), "e2e-ops")
    try:
        failed = await tap.wait_for("media.failed.v1", lambda e: e.subject == media_id, timeout=90)
        assert failed.data["version"] == 2
        ops = DeadLetterQueues(connection)

        async def parked() -> bool:
            messages = await ops.browse("media.process_upload")
            return any(
                m.headers.get("x-original-queue") == "media.process_upload" for m in messages
            )

        await wait_for(parked, timeout=30, message="the upload reached its DLQ")
        await wait_for(
            lambda: any(
                e.get("tags", {}).get("queue") == "media.process_upload"
                for e in platform.sentry.events()
            ),
            timeout=15,
            message="a Sentry event for the parked upload",
        )
    finally:
        s3.restore()
        await connection.close()
    replay = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "events",
        "--url",
        platform.run.amqp_url,
        "dlq",
        "replay",
        "media.process_upload",
        "--note",
        "e2e: storage is back",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(replay.communicate(), 60)
    assert replay.returncode == 0, err.decode()
    assert "replayed 1 message(s)" in out.decode()
    processed = await tap.wait_for(
        "media.processed.v1", lambda e: e.subject == media_id, timeout=60
    )
    assert processed.data["version"] == 3
    assert await published(platform, media_id, "media.processed.v1") == 1, "processed once"


async def test_the_index_down_while_portfolios_change_answers_503_then_catches_up_exactly(
    platform: Platform,
    tap: EventTap,
    auth: httpx.AsyncClient,
    portfolio: httpx.AsyncClient,
    search: httpx.AsyncClient,
) -> None:
    word = f"kittiwake{uuid.uuid4().hex[:6]}"
    index = platform.proxies["search"]
    index.refuse()
    try:
        place = await studio(platform, tap, auth, portfolio, titles=(f"A {word} nesting",))
        down = await search.get("/search", params={"q": word})
        assert down.status_code == 503
        assert int(down.headers["retry-after"]) >= 1
        ready = (await search.get("/readyz")).json()
        assert ready["checks"]["index"].startswith("failing")
    finally:
        index.restore()

    async def found() -> bool:
        hits = (await search.get("/search", params={"q": word})).json().get("hits", [])
        return any(h["portfolio_id"] == place.portfolio["id"] for h in hits)

    await wait_for(found, timeout=60, message="the index caught up once it was back")

    async def exact() -> bool:
        drift = await query(
            platform,
            "search",
            "SELECT p.portfolio_id FROM projected_portfolios p "
            "LEFT JOIN search_documents d ON d.portfolio_id = p.portfolio_id AND NOT d.deleted "
            "WHERE p.visibility = 'public' AND NOT p.deleted "
            "AND d.version IS DISTINCT FROM p.revision",
        )
        return not drift

    await wait_for(exact, timeout=30, message="every public portfolio's document is current")


async def test_with_the_cache_down_public_pages_are_still_served(
    platform: Platform, tap: EventTap, auth: httpx.AsyncClient, portfolio: httpx.AsyncClient
) -> None:
    place = await studio(platform, tap, auth, portfolio)
    url = f"/public/{place.portfolio['owner_handle']}/{place.portfolio['slug']}"
    cache = platform.proxies["redis"]
    cache.refuse()
    try:
        answer = await portfolio.get(url)
        assert answer.status_code == 200
        assert answer.json()["id"] == place.portfolio["id"]
        ready: dict[str, Any] = (await portfolio.get("/readyz")).json()
        assert ready["checks"]["cache"].startswith("degraded"), ready
    finally:
        cache.restore()
