"""The processing job on real storage: every size made, stored under the event's keys, recorded
once; no metadata left; temp files gone; storage outages retried on RabbitMQ, then given up with
media.failed.v1, then replayed after recovery and processed once."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from events.testing import delivery, scrape_registry, wait_for
from media.bootstrap import SERVICE
from media.container import Container
from media.handlers.access import project_portfolio
from media.handlers.processing import process_upload
from media.testing import portfolio_events, write_jpeg
from servicekit.testing import Outbox, TokenIssuer, api_client


async def uploaded(
    container: Container, issuer: TokenIssuer, outbox: Outbox, tmp_path: Path
) -> Any:
    """An uploaded camera photo (EXIF orientation 6, GPS) and its media.uploaded.v1 event."""
    owner = uuid.uuid4()
    _, item, events = portfolio_events(owner)
    for event in events:
        await container.bound(project_portfolio)(delivery(event, "media.portfolio_access"))
    photo = write_jpeg(tmp_path / "camera.jpg", (2400, 1800), orientation=6, gps=True)
    async with api_client(SERVICE, container) as client:
        with photo.open("rb") as file:
            answer = await client.post(
                f"/media?item_id={item}",
                files={"file": ("camera.jpg", file, "image/jpeg")},
                headers=issuer.bearer(owner),
            )
        assert answer.status_code == 202, answer.text
    [event] = await outbox.drain()
    return event


async def test_every_size_is_stored_once_without_metadata_and_recorded(
    container: Container,
    issuer: TokenIssuer,
    outbox: Outbox,
    tmp_path: Path,
    stored_keys: Callable[[], list[str]],
) -> None:
    event = await uploaded(container, issuer, outbox, tmp_path)
    process = container.bound(process_upload)
    before = scrape_registry()
    await process(delivery(event, "media.process_upload"))
    await process(delivery(event, "media.process_upload", attempt=2))  # a redelivery
    after = scrape_registry()
    for name, labels in (
        ("media_processing_seconds_count", {}),
        ("media_processed_total", {"outcome": "ready"}),
    ):
        assert after.total(name, **labels) - before.total(name, **labels) == 1, name
    variants = sorted(k for k in stored_keys() if k.startswith("variants/"))
    names = sorted(k.rsplit("/", 1)[-1] for k in variants)
    assert names == ["1600w.jpg", "1600w.webp", "200w.jpg", "200w.webp", "800w.jpg", "800w.webp"]
    assert all(f"/{event.id}/" in k for k in variants), "keys of the event's own: overwritten"
    [processed] = await outbox.drain()
    assert processed.type == "media.processed.v1"
    assert (processed.data.version, len(processed.data.variants)) == (2, 6)
    assert processed.data.thumbnail_key.endswith("200w.webp")
    for variant in processed.data.variants:
        head = await container.storage.head(variant.object_key)
        assert head.size == variant.size_bytes
        local = tmp_path / variant.name
        await container.storage.download(variant.object_key, local)
        with Image.open(local) as image:
            assert image.size == (variant.width, variant.height)
            assert variant.height > variant.width, "turned upright (orientation 6)"
            assert not image.getexif(), "no EXIF (and so no GPS) left"
    assert container.temp.in_use() == []


async def test_signed_urls_for_those_who_may_see_refused_when_tampered_or_expired(
    container: Container, issuer: TokenIssuer, outbox: Outbox, tmp_path: Path
) -> None:
    event = await uploaded(container, issuer, outbox, tmp_path)
    await container.bound(process_upload)(delivery(event, "media.process_upload"))
    owner, url = event.data.owner_id, f"/media/{event.data.media_id}"
    async with api_client(SERVICE, container) as client:
        mine = await client.get(url, headers=issuer.bearer(owner))
        assert (await client.get(url, headers=issuer.bearer(uuid.uuid4()))).status_code == 404
        assert (await client.get(url)).status_code == 404, "private: anonymous sees nothing"
    assert mine.status_code == 200
    signed = mine.json()["variants"][0]["url"]
    async with httpx.AsyncClient() as plain:
        fetched = await plain.get(signed)
        assert fetched.status_code == 200
        Image.open(io.BytesIO(fetched.content)).verify()
        tampered = signed.replace("Signature=", "Signature=0")
        assert (await plain.get(tampered)).status_code == 403
        assert (await plain.get(signed.split("?", 1)[0])).status_code == 403, "unsigned"
    key = signed.split("?", 1)[0].split(f"/{container.settings.s3.bucket}/", 1)[1]
    expiring = await container.storage.presigned_get(key, expires_in=timedelta(seconds=1))

    async def expired() -> bool:
        async with httpx.AsyncClient() as plain:
            return (await plain.get(expiring)).status_code == 403

    await wait_for(expired, timeout=15, interval=0.5, message="the signed URL expired")
