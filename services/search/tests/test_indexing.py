"""The projection and the index follow portfolio's, media's and auth's events: only public
portfolios are found; late, repeated and out-of-order events leave the newest state."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx

from events import Event
from events.contracts import (
    MediaProcessedV1,
    PortfolioCreatedV1,
    PortfolioDeletedV1,
    PortfolioItemAddedV1,
    PortfolioRestoredV1,
    PortfolioUpdatedV1,
    UserRegisteredV1,
)
from events.testing import delivery, example_event, scrape_registry
from search.container import Container
from search.handlers.indexing import index_media, index_portfolio, record_owner
from search.handlers.maintenance import reconcile


class Portfolio:
    """A portfolio's events as portfolio publishes them, each at the next version."""

    def __init__(self, title: str = "Harbour studies", visibility: str = "public") -> None:
        self.id, self.owner, self.version = uuid.uuid4(), uuid.uuid4(), 0
        self.title, self.visibility = title, visibility

    def next(self, model: type[Any], **fields: Any) -> Event[Any]:
        self.version += 1
        base: dict[str, Any] = {
            "portfolio_id": self.id,
            "owner_id": self.owner,
            "version": self.version,
        }
        if model in (PortfolioCreatedV1, PortfolioUpdatedV1, PortfolioRestoredV1):
            base |= {"title": self.title, "visibility": self.visibility, "description": ""}
        return example_event(model, **(base | fields))


async def feed(container: Container, *events: Event[Any]) -> None:
    handlers = {
        "media.processed.v1": (index_media, "search.index_media"),
        "user.registered.v1": (record_owner, "search.owners"),
    }
    for event in events:
        handler, queue = handlers.get(event.type, (index_portfolio, "search.index_portfolio"))
        await container.bound(handler)(delivery(event, queue))


async def found(client: httpx.AsyncClient, q: str) -> list[dict[str, Any]]:
    answer = await client.get("/search", params={"q": q})
    assert answer.status_code == 200, answer.text
    hits: list[dict[str, Any]] = answer.json()["hits"]
    return hits


async def test_a_public_portfolio_is_found_by_an_item_title_with_its_thumbnail_and_owner(
    container: Container, client: httpx.AsyncClient
) -> None:
    harbour = Portfolio()
    media = uuid.uuid4()
    item = uuid.uuid4()
    await feed(
        container,
        harbour.next(PortfolioCreatedV1),
        harbour.next(
            PortfolioItemAddedV1, item_id=item, title="Lighthouse at dusk", media_id=media
        ),
        example_event(
            MediaProcessedV1,
            media_id=media,
            item_id=item,
            portfolio_id=harbour.id,
            version=2,
            thumbnail_key=f"variants/{media}/e/200w.webp",
        ),
        example_event(UserRegisteredV1, user_id=harbour.owner, display_name="Ada Lovelace"),
    )
    [hit] = await found(client, "lighthouse")
    assert (hit["portfolio_id"], hit["owner_name"]) == (str(harbour.id), "Ada Lovelace")
    assert hit["thumbnail"] == f"variants/{media}/e/200w.webp"
    assert await found(client, "lighthuose") != [], "one typo in a word of 5+ letters"
    assert await container.bound(reconcile)() == {"written": 0, "removed": 0}


async def test_private_and_unlisted_are_never_found_and_going_private_or_deleted_removes_it(
    container: Container, client: httpx.AsyncClient
) -> None:
    for visibility in ("private", "unlisted"):
        hidden = Portfolio(f"Secret {visibility} sketches", visibility)
        await feed(container, hidden.next(PortfolioCreatedV1))
        assert await found(client, visibility) == []
    shown = Portfolio("Seascapes in oil")
    await feed(container, shown.next(PortfolioCreatedV1))
    assert len(await found(client, "seascapes")) == 1
    shown.visibility = "private"
    await feed(container, shown.next(PortfolioUpdatedV1, changed=["visibility"]))
    assert await found(client, "seascapes") == []
    shown.visibility = "public"
    await feed(container, shown.next(PortfolioUpdatedV1, changed=["visibility"]))
    await feed(container, shown.next(PortfolioDeletedV1, slug="x"))
    assert await found(client, "seascapes") == []
    await feed(container, shown.next(PortfolioRestoredV1))
    assert len(await found(client, "seascapes")) == 1


async def test_late_repeated_and_out_of_order_events_leave_the_newest_state(
    container: Container, client: httpx.AsyncClient
) -> None:
    harbour = Portfolio("Harbour studies")
    created = harbour.next(PortfolioCreatedV1)
    added = harbour.next(PortfolioItemAddedV1, title="Nets drying")
    harbour.title = "Fishing villages"
    renamed = harbour.next(PortfolioUpdatedV1, changed=["title"])
    await feed(container, renamed, added, created)  # the newest first, the oldest last
    await feed(container, renamed)  # and once more
    hits = await found(client, "villages")
    assert [h["title"] for h in hits] == ["Fishing villages"]
    assert await found(client, "harbour") == [], "the late created event did not win"
    assert len(await found(client, "nets")) == 1, "the item added out of order is there"


async def test_the_index_lag_is_observed_for_each_change_written_and_only_those(
    container: Container, client: httpx.AsyncClient
) -> None:
    quay = Portfolio("Quay at noon")
    created = quay.next(PortfolioCreatedV1)
    created = created.model_copy(update={"time": created.time - timedelta(seconds=30)})
    updated = quay.next(PortfolioUpdatedV1, changed=["title"])
    name = "search_index_lag_seconds"
    before = scrape_registry()
    await feed(container, created, updated, updated)  # the repeat is absorbed: no write
    stale = created.model_copy(update={"id": uuid.uuid4()})
    await feed(container, stale)  # an older version, late: nothing changes
    after = scrape_registry()
    counts = {
        t: after.total(f"{name}_count", event_type=t) - before.total(f"{name}_count", event_type=t)
        for t in ("portfolio.created.v1", "portfolio.updated.v1")
    }
    assert counts == {"portfolio.created.v1": 1, "portfolio.updated.v1": 1}
    lag = after.total(f"{name}_sum", event_type="portfolio.created.v1") - before.total(
        f"{name}_sum", event_type="portfolio.created.v1"
    )
    assert 30 <= lag < 60, "the created event was written 30 s after it happened"
    assert len(await found(client, "quay")) == 1
