"""Database transactions across services, and the four permission cases, on the whole platform:
a failed batch leaves nothing and publishes nothing; one ETag, two PATCHes: one 200, one 412,
one event; a deleted portfolio leaves reads and search and comes back with them; a purge
removes items by cascade and media's objects; owner, editor, viewer and stranger on a private
portfolio across portfolio, media and search."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx

from devkit import providers
from devkit.platform import Platform
from events.testing import EventTap, wait_for
from media.testing import write_jpeg
from tests.e2e.flows import query
from tests.e2e.people import projected, sign_up, studio


async def found(search: httpx.AsyncClient, word: str, portfolio_id: str) -> bool:
    hits = (await search.get("/search", params={"q": word})).json()["hits"]
    return any(h["portfolio_id"] == portfolio_id for h in hits)


async def test_a_failed_batch_and_a_lost_race_change_nothing_and_say_nothing(
    platform: Platform, tap: EventTap, auth: httpx.AsyncClient, portfolio: httpx.AsyncClient
) -> None:
    place = await studio(platform, tap, auth, portfolio, titles=tuple(f"t{n}" for n in range(18)))
    pid, headers = place.portfolio["id"], place.owner.headers
    version = place.portfolio["version"]
    # PORTFOLIO_MAX_ITEMS is 20 in e2e runs: the third of these would be the 21st
    batch = await portfolio.post(
        f"/portfolios/{pid}/items",
        json={"items": [{"title": "a"}, {"title": "b"}, {"title": "c"}]},
        headers=headers,
    )
    assert batch.status_code == 422, batch.text
    rows = await query(
        platform, "portfolio", "SELECT count(*) AS n FROM items WHERE portfolio_id = $1", pid
    )
    assert rows[0]["n"] == 18
    patches = await asyncio.gather(
        *(
            portfolio.patch(
                f"/portfolios/{pid}",
                json={"title": f"Title {n}"},
                headers={**headers, "If-Match": f'"v{version}"'},
            )
            for n in range(2)
        )
    )
    assert sorted(p.status_code for p in patches) == [200, 412]
    written = await query(
        platform,
        "portfolio",
        "SELECT event_type FROM outbox WHERE envelope->>'subject' = $1 AND event_type = $2",
        pid,
        "portfolio.updated.v1",
    )
    assert len(written) == 1, "one event: the winner's"


async def test_delete_restore_and_purge_across_portfolio_search_and_media(
    platform: Platform,
    tap: EventTap,
    auth: httpx.AsyncClient,
    portfolio: httpx.AsyncClient,
    media: httpx.AsyncClient,
    search: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    word = f"cormorant{uuid.uuid4().hex[:6]}"
    place = await studio(platform, tap, auth, portfolio, titles=(f"A {word} drying",))
    pid, headers = place.portfolio["id"], place.owner.headers
    item = place.items[0]
    with write_jpeg(tmp_path / "bird.jpg", (900, 600)).open("rb") as file:
        uploaded = await media.post(
            f"/media?item_id={item['id']}", files={"file": ("bird.jpg", file)}, headers=headers
        )
    media_id = uploaded.json()["id"]
    processed = await tap.wait_for(
        "media.processed.v1", lambda e: e.subject == media_id, timeout=60
    )
    await wait_for(lambda: found(search, word, pid), timeout=30, message="indexed")

    current = (await portfolio.get(f"/portfolios/{pid}", headers=headers)).json()
    deleted = await portfolio.delete(
        f"/portfolios/{pid}", headers={**headers, "If-Match": f'"v{current["version"]}"'}
    )
    assert deleted.status_code == 204
    assert (await portfolio.get(f"/portfolios/{pid}", headers=headers)).status_code == 404

    async def gone_from_search() -> bool:
        return not await found(search, word, pid)

    await wait_for(gone_from_search, timeout=30, message="gone from search")
    restored = await portfolio.post(f"/portfolios/{pid}/restore", headers=headers)
    assert restored.status_code == 200, restored.text
    await wait_for(lambda: found(search, word, pid), timeout=30, message="back in search")

    again = await portfolio.delete(
        f"/portfolios/{pid}", headers={**headers, "If-Match": f'"v{restored.json()["version"]}"'}
    )
    assert again.status_code == 204
    # PORTFOLIO_RETENTION is 20 s in e2e runs; the worker's purge job runs every second
    await tap.wait_for("portfolio.purged.v1", lambda e: e.subject == pid, timeout=60)
    rows = await query(
        platform, "portfolio", "SELECT count(*) AS n FROM items WHERE portfolio_id = $1", pid
    )
    assert rows[0]["n"] == 0, "items went by cascade"
    run = platform.run
    assert run is not None
    s3 = providers._s3_client(run.s3)

    def objects_left() -> list[str]:
        listed = s3.list_objects_v2(Bucket=run.bucket, Prefix=f"variants/{media_id}/")
        return [o["Key"] for o in listed.get("Contents", [])]

    assert processed.data["variants"]
    await wait_for(lambda: not objects_left(), timeout=30, message="media's objects removed")


async def test_four_people_on_a_private_portfolio(
    platform: Platform,
    tap: EventTap,
    auth: httpx.AsyncClient,
    portfolio: httpx.AsyncClient,
    media: httpx.AsyncClient,
    search: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    word = f"gannet{uuid.uuid4().hex[:6]}"
    place = await studio(platform, tap, auth, portfolio, visibility="private", titles=(word,))
    pid, owner = place.portfolio["id"], place.owner
    editor, viewer, stranger = [
        await sign_up(platform, tap, auth, prefix=p) for p in ("ed", "vi", "st")
    ]
    for person, role in ((editor, "editor"), (viewer, "viewer")):
        await projected(
            platform, "portfolio", "SELECT 1 FROM owners WHERE user_id = $1", person.user_id
        )
        shared = await portfolio.put(
            f"/portfolios/{pid}/collaborators/{person.user_id}",
            json={"role": role},
            headers=owner.headers,
        )
        assert shared.status_code == 200, shared.text
    await projected(
        platform,
        "media",
        "SELECT 1 FROM portfolio_access WHERE portfolio_id = $1 AND collaborators ? $2",
        pid,
        str(viewer.user_id),
    )
    with write_jpeg(tmp_path / "p.jpg", (600, 400)).open("rb") as file:
        uploaded = await media.post(
            f"/media?item_id={place.items[0]['id']}",
            files={"file": ("p.jpg", file)},
            headers=owner.headers,
        )
    media_id = uploaded.json()["id"]
    await tap.wait_for("media.processed.v1", lambda e: e.subject == media_id, timeout=60)
    expected = {
        "owner": (200, 200, 200),
        "editor": (200, 200, 200),
        "viewer": (200, 403, 200),
        "stranger": (404, 404, 404),
    }
    for name, person in (
        ("owner", owner),
        ("editor", editor),
        ("viewer", viewer),
        ("stranger", stranger),
    ):
        read = await portfolio.get(f"/portfolios/{pid}", headers=person.headers)
        change = await portfolio.patch(
            f"/portfolios/{pid}",
            json={"description": name},
            headers={
                **person.headers,
                "If-Match": f'"v{read.json()["version"] if read.status_code == 200 else 1}"',
            },
        )
        shown = await media.get(f"/media/{media_id}", headers=person.headers)
        assert (read.status_code, change.status_code, shown.status_code) == expected[name], name
        if shown.status_code == 200:
            assert all(v["url"].startswith("http") for v in shown.json()["variants"]), "signed URLs"
    # Once search has applied the portfolio and its item, a private portfolio is not found.
    await projected(
        platform, "search", "SELECT 1 FROM projected_items WHERE portfolio_id = $1", pid
    )
    assert not await found(search, word, pid), "a private portfolio is never found"
