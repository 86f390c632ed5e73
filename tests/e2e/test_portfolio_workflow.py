"""The portfolio creation workflow of the test plan, followed event by event on the whole
platform: 1 authenticate, 2 create the portfolio, 3 add items, 4 upload an image to an item,
5 thumbnails generated and stored, 6 search finds it, 7 the public page's cache is cleared.
One correlation id runs through every request and every event they cause."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import httpx
from PIL import Image
from redis.asyncio import Redis

from devkit import providers
from devkit.platform import Platform
from events.testing import EventTap, wait_for
from media.testing import write_jpeg
from tests.e2e.people import Person, projected, sign_up


def milestones(tap: EventTap, correlation_id: str) -> list[str]:
    """The workflow's events in order, emails left out (they interleave with every step)."""
    return [t for t in tap.sequence(correlation_id) if not t.startswith("email.")]


async def test_portfolio_creation_workflow(
    platform: Platform,
    tap: EventTap,
    auth: httpx.AsyncClient,
    portfolio: httpx.AsyncClient,
    media: httpx.AsyncClient,
    search: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    # 1. authenticate: register, verify from the email, log in
    ada: Person = await sign_up(platform, tap, auth)
    await projected(
        platform, "portfolio", "SELECT 1 FROM owners WHERE user_id = $1 AND verified", ada.user_id
    )

    # 2. create the portfolio
    created = await portfolio.post(
        "/portfolios",
        json={"title": "Harbour Studies", "slug": "harbour", "visibility": "public"},
        headers=ada.headers,
    )
    assert created.status_code == 201, created.text
    page = created.json()
    await tap.wait_for("portfolio.created.v1", lambda e: e.subject == page["id"])

    # 3. add items
    added = await portfolio.post(
        f"/portfolios/{page['id']}/items",
        json={"items": [{"title": "Lighthouse at dusk"}, {"title": "Nets drying"}]},
        headers=ada.headers,
    )
    assert added.status_code == 201, added.text
    item = added.json()["items"][0]
    handle = added.json()["owner_handle"]
    public_url = f"/public/{handle}/harbour"
    before = await portfolio.get(public_url)
    assert [i["media_status"] for i in before.json()["items"]] == ["none", "none"]
    prefix = platform.processes["portfolio-api"].env["PORTFOLIO_REDIS__KEY_PREFIX"]
    cache_key = f"{prefix}:page:{handle}:harbour"
    redis = Redis.from_url(platform.processes["portfolio-api"].env["PORTFOLIO_REDIS__URL"])

    async def cached() -> bool:
        # The cache consumer clears the page again from the items' events, asynchronously:
        # read until a read leaves it cached.
        await portfolio.get(public_url)
        return bool(await redis.exists(cache_key))

    await wait_for(cached, timeout=15, message="the public page was cached")

    # 4. upload an image to the item through media
    await projected(
        platform, "media", "SELECT 1 FROM item_access WHERE item_id = $1", uuid.UUID(item["id"])
    )
    photo = write_jpeg(tmp_path / "lighthouse.jpg", (3000, 2000), orientation=6, gps=True)
    with photo.open("rb") as file:
        uploaded = await media.post(
            f"/media?item_id={item['id']}",
            files={"file": ("lighthouse.jpg", file, "image/jpeg")},
            headers=ada.headers,
        )
    assert uploaded.status_code == 202, uploaded.text
    media_id = uploaded.json()["id"]
    attached = await portfolio.patch(
        f"/portfolios/{page['id']}/items/{item['id']}",
        json={"media_id": media_id},
        headers={**ada.headers, "If-Match": f'"v{item["version"]}"'},
    )
    assert attached.status_code == 200, attached.text
    assert await redis.exists(cache_key) == 0, "the change cleared the cached page"
    await portfolio.get(public_url)  # cached again, while the image is being processed

    # 5. thumbnails generated: every variant stored, fetched by its signed URL, upright, no GPS
    processed = await tap.wait_for(
        "media.processed.v1", lambda e: e.subject == media_id, timeout=60
    )
    variants = processed.data["variants"]
    assert sorted(v["name"] for v in variants) == [
        "1600w.jpg",
        "1600w.webp",
        "200w.jpg",
        "200w.webp",
        "800w.jpg",
        "800w.webp",
    ]
    assert platform.run is not None
    s3 = providers._s3_client(platform.run.s3)
    for variant in variants:
        head = s3.head_object(Bucket=platform.run.bucket, Key=variant["object_key"])
        assert head["ContentLength"] == variant["size_bytes"]
    shown = (await media.get(f"/media/{media_id}", headers=ada.headers)).json()
    assert shown["status"] == "ready"
    async with httpx.AsyncClient() as browser:
        for variant in shown["variants"]:
            body = (await browser.get(variant["url"])).content
            with Image.open(io.BytesIO(body)) as image:
                assert image.size == (variant["width"], variant["height"])
                assert image.height > image.width, "turned upright"
                assert not image.getexif(), "no EXIF, so no GPS"

    # 6. search finds the portfolio by a word of an item's title, with the thumbnail
    async def found() -> bool:
        hits = (await search.get("/search", params={"q": "lighthouse"})).json()["hits"]
        mine = [h for h in hits if h["portfolio_id"] == page["id"]]
        return bool(mine) and mine[0]["thumbnail"] == processed.data["thumbnail_key"]

    await wait_for(found, timeout=30, message="search finds it, with the thumbnail")

    # 7. cache cleared: once portfolio has the processed image, the public page shows it (the
    # page cached while it was processing was cleared after that commit)
    await projected(
        platform,
        "portfolio",
        "SELECT 1 FROM items WHERE id = $1 AND media_status = 'ready'",
        uuid.UUID(item["id"]),
    )

    async def page_is_fresh() -> bool:
        shown = (await portfolio.get(public_url)).json()
        return bool(shown["items"][0]["media_status"] == "ready")

    await wait_for(page_is_fresh, timeout=5, message="the page reflects the change right after")
    ready_item = (await portfolio.get(public_url)).json()["items"][0]
    assert ready_item["thumbnail_key"] == processed.data["thumbnail_key"]
    await redis.aclose()

    sequence = milestones(tap, ada.correlation_id)
    assert sequence[:7] == [
        "user.registered.v1",
        "user.verification_requested.v1",
        "user.verified.v1",
        "user.logged_in.v1",
        "portfolio.created.v1",
        "portfolio.item_added.v1",
        "portfolio.item_added.v1",
    ], sequence
    assert set(sequence[7:]) == {
        "media.uploaded.v1",
        "portfolio.item_updated.v1",
        "media.processed.v1",
    }, sequence
