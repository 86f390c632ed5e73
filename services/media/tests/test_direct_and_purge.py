"""Direct uploads (a presigned POST straight to storage, then `complete`) and the removal of
objects: at once for a purged portfolio, after the retention window for a removed item."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx

from events.contracts import PortfolioItemRemovedV1, PortfolioPurgedV1
from events.testing import delivery, example_event
from media.bootstrap import SERVICE
from media.container import Container
from media.handlers.access import project_portfolio
from media.handlers.processing import process_upload
from media.handlers.purge import on_removal, purge_due
from media.testing import portfolio_events, write_jpeg, write_not_an_image
from servicekit.clock import FrozenClock
from servicekit.testing import Outbox, TokenIssuer, api_client


async def item_of(container: Container, owner: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    portfolio, item, events = portfolio_events(owner)
    for event in events:
        await container.bound(project_portfolio)(delivery(event, "media.portfolio_access"))
    return portfolio, item


async def direct_upload(
    client: httpx.AsyncClient, item: uuid.UUID, path: Path, auth: dict[str, str], kind: str
) -> tuple[str, int]:
    size = path.stat().st_size  # noqa: ASYNC240 - a test's own small file
    asked = await client.post(
        "/media/uploads",
        json={"item_id": str(item), "content_type": kind, "size_bytes": size},
        headers=auth,
    )
    assert asked.status_code == 201, asked.text
    upload = asked.json()
    async with httpx.AsyncClient() as browser:
        with path.open("rb") as file:
            sent = await browser.post(
                upload["url"], data=upload["fields"], files={"file": (path.name, file, kind)}
            )
    assert sent.status_code in (200, 204), sent.text
    completed = await client.post(upload["complete"], headers=auth)
    return upload["media_id"], completed.status_code


async def test_a_direct_upload_is_validated_at_complete_and_queued(
    container: Container,
    issuer: TokenIssuer,
    outbox: Outbox,
    tmp_path: Path,
    stored_keys: Callable[[], list[str]],
) -> None:
    owner = uuid.uuid4()
    _, item = await item_of(container, owner)
    auth = issuer.bearer(owner)
    async with api_client(SERVICE, container) as client:
        good, status = await direct_upload(
            client, item, write_jpeg(tmp_path / "big.jpg", (2000, 1500)), auth, "image/jpeg"
        )
        assert status == 202
        assert (await client.post(f"/media/{good}/complete", headers=auth)).status_code == 409
        bad, status = await direct_upload(
            client, item, write_not_an_image(tmp_path / "fake.jpg"), auth, "image/jpeg"
        )
        assert status == 415
    assert [e.type for e in await outbox.drain()] == ["media.uploaded.v1"]
    assert f"originals/{good}" in stored_keys() and f"originals/{bad}" not in stored_keys()
    assert container.temp.in_use() == []


async def test_objects_go_at_once_with_a_purged_portfolio_and_later_with_a_removed_item(
    container: Container,
    issuer: TokenIssuer,
    outbox: Outbox,
    tmp_path: Path,
    stored_keys: Callable[[], list[str]],
) -> None:
    owner = uuid.uuid4()
    media_of: dict[str, uuid.UUID] = {}
    items: dict[str, tuple[uuid.UUID, uuid.UUID]] = {}
    async with api_client(SERVICE, container) as client:
        for name in ("purged", "removed"):
            items[name] = await item_of(container, owner)
            with write_jpeg(tmp_path / f"{name}.jpg", (600, 400)).open("rb") as file:
                answer = await client.post(
                    f"/media?item_id={items[name][1]}",
                    files={"file": ("p.jpg", file, "image/jpeg")},
                    headers=issuer.bearer(owner),
                )
            media_of[name] = uuid.UUID(answer.json()["id"])
    for event in await outbox.drain():
        await container.bound(process_upload)(delivery(event, "media.process_upload"))

    def keys_of(name: str) -> list[str]:
        return [k for k in stored_keys() if str(media_of[name]) in k]

    # 600 px wide: the original and the 200 px pair (nothing is upscaled)
    assert len(keys_of("purged")) == 3 and len(keys_of("removed")) == 3
    remove = container.bound(on_removal)
    purged = example_event(
        PortfolioPurgedV1,
        portfolio_id=items["purged"][0],
        owner_id=owner,
        media_ids=[media_of["purged"]],
    )
    await remove(delivery(purged, "media.purge"))
    await remove(delivery(purged, "media.purge", attempt=2))  # a redelivery deletes nothing twice
    assert keys_of("purged") == []
    removed = example_event(
        PortfolioItemRemovedV1,
        portfolio_id=items["removed"][0],
        item_id=items["removed"][1],
        owner_id=owner,
        media_id=media_of["removed"],
    )
    await remove(delivery(removed, "media.purge"))
    clock = FrozenClock()
    assert await purge_due(uow=container.uow, storage=container.storage, clock=clock) == 0
    assert len(keys_of("removed")) == 3, "kept through the retention window"
    clock.advance(container.settings.retention + timedelta(minutes=1))
    assert await purge_due(uow=container.uow, storage=container.storage, clock=clock) == 1
    assert keys_of("removed") == []
