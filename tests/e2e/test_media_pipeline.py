"""The media processing pipeline of the test plan, followed step by step on the whole platform:
1 the upload lands in a temp file (seen while storage is slowed), 2 validation refuses what is
not an acceptable image, 3 media.uploaded.v1 on the bus, 4 sizes generated, 5 objects in
storage, 6 records updated and the item ready, 7 temp files cleaned."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx

from devkit import providers
from devkit.platform import Platform
from events.testing import EventTap, wait_for
from media.testing import write_jpeg, write_not_an_image, write_png_bomb
from tests.e2e.flows import query
from tests.e2e.people import projected, studio


def temp_files(platform: Platform) -> list[Path]:
    root = platform.log_dir / "media-tmp"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def upload(
    media: httpx.AsyncClient, item: str, path: Path, headers: dict[str, str]
) -> httpx.Response:
    with path.open("rb") as file:
        return await media.post(
            f"/media?item_id={item}", files={"file": (path.name, file)}, headers=headers
        )


async def test_media_pipeline(
    platform: Platform,
    tap: EventTap,
    auth: httpx.AsyncClient,
    portfolio: httpx.AsyncClient,
    media: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    place = await studio(platform, tap, auth, portfolio)
    item, headers = place.items[0], place.owner.headers
    photo = write_jpeg(tmp_path / "photo.jpg", (3000, 2000), orientation=6, gps=True)

    # 1. the upload streams into a temp file: seen while storage answers slowly
    platform.proxies["s3"].delay(0.2)
    try:
        sending = asyncio.create_task(upload(media, item["id"], photo, headers))
        await wait_for(lambda: bool(temp_files(platform)), timeout=20, message="a temp file")
    finally:
        platform.proxies["s3"].restore()
    accepted = await sending
    assert accepted.status_code == 202, accepted.text
    media_id = accepted.json()["id"]

    # 2. validation refuses by content and size; each refusal stores nothing
    refusals = {
        "notes.jpg": (write_not_an_image(tmp_path / "notes.jpg"), 415),
        "bomb.png": (write_png_bomb(tmp_path / "bomb.png"), 422),
    }
    huge = tmp_path / "huge.jpg"
    huge.write_bytes(os.urandom(26 * 1024 * 1024))  # past MEDIA_MAX_UPLOAD_BYTES (25 MB)
    refusals["huge.jpg"] = (huge, 413)
    for name, (path, status) in refusals.items():
        refused = await upload(media, item["id"], path, headers)
        assert refused.status_code == status, (name, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
    rows = await query(platform, "media", "SELECT id FROM media WHERE item_id = $1", item["id"])
    assert [str(r["id"]) for r in rows] == [media_id], "only the accepted upload has a row"

    # 3. media.uploaded.v1 on the bus
    uploaded = await tap.wait_for("media.uploaded.v1", lambda e: e.subject == media_id)
    assert uploaded.data["object_key"] == f"originals/{media_id}"
    attached = await portfolio.patch(
        f"/portfolios/{place.portfolio['id']}/items/{item['id']}",
        json={"media_id": media_id},
        headers={**headers, "If-Match": f'"v{item["version"]}"'},
    )
    assert attached.status_code == 200, attached.text

    # 4. sizes generated, 5. each object in storage (HEAD), 6. records and media.processed.v1
    processed = await tap.wait_for(
        "media.processed.v1", lambda e: e.subject == media_id, timeout=60
    )
    assert processed.causationid == str(uploaded.id), "caused by the upload's event"
    assert platform.run is not None
    s3 = providers._s3_client(platform.run.s3)
    for variant in processed.data["variants"]:
        head = s3.head_object(Bucket=platform.run.bucket, Key=variant["object_key"])
        assert head["ContentLength"] == variant["size_bytes"]
    rows = await query(
        platform, "media", "SELECT name, width FROM variants WHERE media_id = $1", media_id
    )
    assert sorted(r["name"] for r in rows) == sorted(v["name"] for v in processed.data["variants"])
    await projected(
        platform,
        "portfolio",
        "SELECT 1 FROM items WHERE id = $1 AND media_status = 'ready'",
        item["id"],
    )

    # 7. temp files cleaned, in the api and in the worker
    await wait_for(lambda: not temp_files(platform), timeout=10, message="temp files removed")
