"""What portfolio consumes: owners from auth, media reports from media, its own events for the
cache; the handlers as the worker binds them, and the worker itself on RabbitMQ."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import SecretStr

from events import RabbitPublisher
from events.connection import connect
from events.contracts import (
    MediaFailedV1,
    MediaProcessedV1,
    MediaVariant,
    UserRegisteredV1,
    UserVerifiedV1,
)
from events.settings import BusSettings
from events.testing import delivery, example_event, wait_for
from portfolio.bootstrap import SERVICE
from portfolio.container import Container, build
from portfolio.handlers.media_status import apply_media_report
from portfolio.handlers.owners import record_owner
from portfolio.testing import create, settings_for, verified_owner
from servicekit.testing import TokenIssuer, running_worker


async def owner_row(container: Container, user: uuid.UUID) -> Any:
    async with container.uow() as tx:
        return await tx.owners.get(user)


async def test_registered_and_verified_in_either_order_end_verified_with_one_handle(
    container: Container,
) -> None:
    record = container.bound(record_owner)
    now = datetime.now(UTC)
    late, early = uuid.uuid4(), uuid.uuid4()
    for user, order in ((late, ("registered", "verified")), (early, ("verified", "registered"))):
        events = {
            "registered": example_event(
                UserRegisteredV1, user_id=user, display_name="Ada Lovelace", registered_at=now
            ),
            "verified": example_event(
                UserVerifiedV1, user_id=user, display_name="Ada Lovelace", verified_at=now
            ),
        }
        for name in order:
            await record(delivery(events[name], "portfolio.owners"))
        await record(delivery(events[order[0]], "portfolio.owners", attempt=2))  # a duplicate
    first, second = await owner_row(container, late), await owner_row(container, early)
    assert first.verified and second.verified
    assert first.handle == "ada-lovelace"
    assert second.handle == f"ada-lovelace-{early.hex[:6]}", "the same name, a unique handle"


def processed(
    item: dict[str, Any], portfolio: dict[str, Any], owner: uuid.UUID, version: int, media: str
) -> Any:
    variant = MediaVariant(
        name="200w.webp",
        width=200,
        height=150,
        content_type="image/webp",
        size_bytes=1000,
        object_key=f"variants/{media}/200w.webp",
    )
    return example_event(
        MediaProcessedV1,
        media_id=uuid.UUID(media),
        owner_id=owner,
        portfolio_id=uuid.UUID(portfolio["id"]),
        item_id=uuid.UUID(item["id"]),
        version=version,
        variants=[variant],
        thumbnail_key=variant.object_key,
    )


async def test_the_newest_media_report_wins_and_stale_or_superseded_ones_change_nothing(
    client: httpx.AsyncClient, container: Container, issuer: TokenIssuer
) -> None:
    owner = await verified_owner(container)
    auth = issuer.bearer(owner)
    portfolio = await create(client, auth, visibility="public")
    media, other = str(uuid.uuid4()), str(uuid.uuid4())
    added = await client.post(
        f"/portfolios/{portfolio['id']}/items",
        json={"items": [{"title": "A", "media_id": media}]},
        headers=auth,
    )
    item = added.json()["items"][0]
    apply = container.bound(apply_media_report)

    async def current() -> dict[str, Any]:
        body = (await client.get(f"/portfolios/{portfolio['id']}", headers=auth)).json()
        return {"portfolio_version": body["version"], **body["items"][0]}

    before = await current()
    await apply(delivery(processed(item, portfolio, owner, 3, media), "portfolio.media_status"))
    ready = await current()
    assert (ready["media_status"], ready["thumbnail_key"]) == (
        "ready",
        f"variants/{media}/200w.webp",
    )
    assert ready["portfolio_version"] == before["portfolio_version"] + 1, "a new ETag"
    failed_late = example_event(
        MediaFailedV1,
        media_id=uuid.UUID(media),
        owner_id=owner,
        portfolio_id=uuid.UUID(portfolio["id"]),
        item_id=uuid.UUID(item["id"]),
        version=2,
    )
    await apply(delivery(failed_late, "portfolio.media_status"))
    await apply(delivery(processed(item, portfolio, owner, 9, other), "portfolio.media_status"))
    assert await current() == ready, "an older report and one about another image are ignored"


async def test_the_worker_consumes_from_rabbitmq(
    database: str, amqp_vhost: str, issuer: TokenIssuer
) -> None:
    bus = BusSettings(
        amqp_url=SecretStr(amqp_vhost),
        exchange=f"events.{uuid.uuid4().hex[:8]}",
        reconnect_interval_s=0.2,
    )
    worker = build(settings_for(database, bus=bus))
    user = uuid.uuid4()
    async with running_worker(SERVICE, worker):
        connection = await connect(bus, "portfolio-test-producer")
        producer = RabbitPublisher(connection, bus)
        await producer.start()
        await producer.publish(
            example_event(UserVerifiedV1, user_id=user, display_name="Grace Hopper")
        )

        async def projected() -> bool:
            row = await owner_row(worker, user)
            return row is not None and row.verified

        await wait_for(projected, timeout=15, message="user.verified reached the projection")
        await connection.close()
    check = build(settings_for(database))
    try:
        assert (await owner_row(check, user)).handle == "grace-hopper"
    finally:
        await check.close()
