"""Uploads through the API, on real PostgreSQL and a real S3 server: streamed to a temp file,
validated by content, stored, queued; every refusal a problem that leaves nothing behind."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from devkit.faultproxy import FaultProxy
from devkit.s3server import S3Server
from events.testing import delivery
from media.bootstrap import SERVICE
from media.config import Settings
from media.container import Container, build
from media.handlers.access import project_portfolio
from media.testing import portfolio_events, refused_uploads, write_jpeg
from servicekit.testing import Outbox, TokenIssuer, api_client


async def portfolio_with_item(
    container: Container, owner: uuid.UUID, **options: object
) -> uuid.UUID:
    """An item media may take images for, as portfolio's events announce it."""
    _, item, events = portfolio_events(owner, **options)  # type: ignore[arg-type]
    project = container.bound(project_portfolio)
    for event in events:
        await project(delivery(event, "media.portfolio_access"))
    return item


async def upload(
    client: httpx.AsyncClient, item: uuid.UUID, path: Path, headers: dict[str, str]
) -> httpx.Response:
    with path.open("rb") as file:
        return await client.post(
            f"/media?item_id={item}",
            files={"file": (path.name, file, "application/octet-stream")},
            headers=headers,
        )


async def test_an_image_is_stored_and_queued_with_one_event(
    stored_keys: Callable[[], list[str]],
    client: httpx.AsyncClient,
    container: Container,
    issuer: TokenIssuer,
    outbox: Outbox,
    tmp_path: Path,
) -> None:
    owner = uuid.uuid4()
    item = await portfolio_with_item(container, owner)
    photo = write_jpeg(tmp_path / "photo.jpg", (1200, 900), orientation=6)
    response = await upload(client, item, photo, issuer.bearer(owner))
    assert response.status_code == 202, response.text
    body = response.json()
    assert response.headers["location"] == f"/media/{body['id']}"
    assert (body["status"], body["content_type"], body["width"], body["height"]) == (
        "uploaded",
        "image/jpeg",
        900,
        1200,
    ), "the size as displayed (EXIF orientation 6)"
    head = await container.storage.head(f"originals/{body['id']}")
    assert head.size == photo.stat().st_size
    [uploaded] = await outbox.drain()
    assert uploaded.type == "media.uploaded.v1"
    assert (uploaded.data.version, uploaded.data.item_id, uploaded.data.owner_id) == (
        1,
        item,
        owner,
    )


@pytest.mark.parametrize(
    "case",
    ["text named .jpg", "svg", "bmp", "pdf named .png", "empty file", "truncated jpeg", "png bomb"],
)
async def test_a_refused_file_is_a_problem_and_leaves_nothing(
    stored_keys: Callable[[], list[str]],
    case: str,
    client: httpx.AsyncClient,
    container: Container,
    issuer: TokenIssuer,
    outbox: Outbox,
    tmp_path: Path,
) -> None:
    owner = uuid.uuid4()
    item = await portfolio_with_item(container, owner)
    path, _ = refused_uploads(tmp_path)[case]
    response = await upload(client, item, path, issuer.bearer(owner))
    expected = {"truncated jpeg": 422, "png bomb": 422, "empty file": 400}.get(case, 415)
    assert response.status_code == expected, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert stored_keys() == []
    assert await outbox.drain() == []
    assert container.temp.in_use() == []


async def test_an_oversized_upload_is_refused_while_it_streams(
    stored_keys: Callable[[], list[str]],
    settings: Settings,
    issuer: TokenIssuer,
    outbox: Outbox,
    tmp_path: Path,
) -> None:
    small = settings.model_copy(update={"max_upload_bytes": 100_000})
    container = build(small)
    container.verifier = issuer.verifier()
    try:
        owner = uuid.uuid4()
        item = await portfolio_with_item(container, owner)
        photo = write_jpeg(tmp_path / "big.jpg", (1600, 1200))
        async with api_client(SERVICE, container) as client:
            response = await upload(client, item, photo, issuer.bearer(owner))
        assert response.status_code == 413
        assert response.json()["type"].endswith("/upload-too-large")
        assert stored_keys() == [] and await outbox.drain() == []
        assert container.temp.in_use() == []
    finally:
        await container.close()


async def test_only_the_owner_and_editors_may_upload(
    stored_keys: Callable[[], list[str]],
    client: httpx.AsyncClient,
    container: Container,
    issuer: TokenIssuer,
    tmp_path: Path,
) -> None:
    owner, editor, viewer, stranger = (uuid.uuid4() for _ in range(4))
    private = await portfolio_with_item(
        container, owner, collaborators={editor: "editor", viewer: "viewer"}
    )
    public = await portfolio_with_item(container, owner, visibility="public")
    photo = write_jpeg(tmp_path / "p.jpg", (400, 300))
    codes = {
        who: (await upload(client, private, photo, issuer.bearer(user))).status_code
        for who, user in (
            ("owner", owner),
            ("editor", editor),
            ("viewer", viewer),
            ("stranger", stranger),
        )
    }
    assert codes == {"owner": 202, "editor": 202, "viewer": 403, "stranger": 404}
    assert (await upload(client, public, photo, issuer.bearer(stranger))).status_code == 403
    assert (await upload(client, public, photo, {})).status_code == 401
    assert (await upload(client, uuid.uuid4(), photo, issuer.bearer(owner))).status_code == 404


async def test_storage_down_during_an_upload_is_503_and_nothing_half_written(
    stored_keys: Callable[[], list[str]],
    settings: Settings,
    s3_server: S3Server,
    issuer: TokenIssuer,
    outbox: Outbox,
    tmp_path: Path,
    fault_proxy: object,
) -> None:
    proxy: FaultProxy = fault_proxy(s3_server.host, s3_server.port)  # type: ignore[operator]
    via_proxy = settings.s3.model_copy(
        update={"endpoint_url": f"http://{proxy.host}:{proxy.port}", "max_attempts": 1}
    )
    container = build(settings.model_copy(update={"s3": via_proxy}))
    container.verifier = issuer.verifier()
    try:
        await container.storage.ensure_bucket()
        owner = uuid.uuid4()
        item = await portfolio_with_item(container, owner)
        photo = write_jpeg(tmp_path / "p.jpg", (800, 600))
        proxy.refuse()
        async with api_client(SERVICE, container) as client:
            down = await upload(client, item, photo, issuer.bearer(owner))
            assert down.status_code == 503
            assert int(down.headers["retry-after"]) > 0
            proxy.restore()
            assert await outbox.drain() == [] and stored_keys() == []
            assert (await upload(client, item, photo, issuer.bearer(owner))).status_code == 202
        assert container.temp.in_use() == []
    finally:
        await container.close()
