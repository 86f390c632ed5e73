"""Items over HTTP: batches, positions, item ETags, removal, reordering."""

from __future__ import annotations

import httpx

from portfolio.container import Container
from portfolio.testing import create, verified_owner
from servicekit.testing import Outbox, TokenIssuer


async def _portfolio(
    client: httpx.AsyncClient, container: Container, issuer: TokenIssuer
) -> tuple[str, dict[str, str]]:
    owner = await verified_owner(container)
    auth = issuer.bearer(owner)
    portfolio = await create(client, auth, visibility="public")
    return f"/portfolios/{portfolio['id']}", auth


async def test_a_batch_of_items_lands_in_order_with_one_event_each(
    client: httpx.AsyncClient, container: Container, issuer: TokenIssuer, outbox: Outbox
) -> None:
    url, auth = await _portfolio(client, container, issuer)
    await outbox.drain()
    added = await client.post(
        f"{url}/items",
        json={"items": [{"title": "One"}, {"title": "Two", "media_id": None}, {"title": "3"}]},
        headers=auth,
    )
    assert added.status_code == 201, added.text
    body = added.json()
    assert [(i["title"], i["position"]) for i in body["items"]] == [
        ("One", 0),
        ("Two", 1),
        ("3", 2),
    ]
    assert body["version"] == 2, "one change of the portfolio, however many items"
    events = await outbox.drain()
    assert [e.type for e in events] == ["portfolio.item_added.v1"] * 3
    assert {e.data.version for e in events} == {2}
    assert [e.data.position for e in events] == [0, 1, 2]


async def test_an_item_changes_with_its_own_etag_and_a_new_image_starts_over(
    client: httpx.AsyncClient, container: Container, issuer: TokenIssuer, outbox: Outbox
) -> None:
    url, auth = await _portfolio(client, container, issuer)
    portfolio = (
        await client.post(f"{url}/items", json={"items": [{"title": "A"}]}, headers=auth)
    ).json()
    item = portfolio["items"][0]
    item_url = f"{url}/items/{item['id']}"
    assert (await client.patch(item_url, json={"title": "B"}, headers=auth)).status_code == 428
    media = "5b0b3c9e-8a7e-4a57-8f07-2a8d5b0c1f11"
    changed = await client.patch(
        item_url, json={"title": "B", "media_id": media}, headers={**auth, "If-Match": '"v1"'}
    )
    assert changed.status_code == 200
    assert (changed.json()["media_status"], changed.headers["etag"]) == ("processing", '"v2"')
    stale = await client.patch(item_url, json={"title": "C"}, headers={**auth, "If-Match": '"v1"'})
    assert stale.status_code == 412
    [updated] = [e for e in await outbox.drain() if e.type == "portfolio.item_updated.v1"]
    assert (updated.data.changed, str(updated.data.media_id)) == (["media_id", "title"], media)
    missing = await client.patch(
        f"{url}/items/{media}", json={"title": "x"}, headers={**auth, "If-Match": '"v1"'}
    )
    assert missing.status_code == 404


async def test_a_removed_item_vanishes_and_says_which_media_it_held(
    client: httpx.AsyncClient, container: Container, issuer: TokenIssuer, outbox: Outbox
) -> None:
    url, auth = await _portfolio(client, container, issuer)
    media = "0f3c1d4e-1111-4a57-8f07-2a8d5b0c1f11"
    portfolio = (
        await client.post(
            f"{url}/items", json={"items": [{"title": "A", "media_id": media}]}, headers=auth
        )
    ).json()
    item_url = f"{url}/items/{portfolio['items'][0]['id']}"
    assert (await client.delete(item_url, headers={**auth, "If-Match": '"v1"'})).status_code == 204
    assert (await client.get(url, headers=auth)).json()["items"] == []
    [removed] = [e for e in await outbox.drain() if e.type == "portfolio.item_removed.v1"]
    assert str(removed.data.media_id) == media
    assert (await client.delete(item_url, headers={**auth, "If-Match": '"v2"'})).status_code == 404


async def test_one_request_sets_every_position(
    client: httpx.AsyncClient, container: Container, issuer: TokenIssuer, outbox: Outbox
) -> None:
    url, auth = await _portfolio(client, container, issuer)
    added = await client.post(
        f"{url}/items", json={"items": [{"title": t} for t in "ABC"]}, headers=auth
    )
    ids = {i["title"]: i["id"] for i in added.json()["items"]}
    version = added.json()["version"]
    await outbox.drain()
    order = [ids["C"], ids["A"], ids["B"]]
    missing_one = await client.put(
        f"{url}/items/order",
        json={"item_ids": order[:2]},
        headers={**auth, "If-Match": f'"v{version}"'},
    )
    assert missing_one.status_code == 422
    reordered = await client.put(
        f"{url}/items/order",
        json={"item_ids": order},
        headers={**auth, "If-Match": f'"v{version}"'},
    )
    assert reordered.status_code == 200
    assert [i["title"] for i in reordered.json()["items"]] == ["C", "A", "B"]
    moved = [e for e in await outbox.drain() if e.type == "portfolio.item_updated.v1"]
    assert sorted(e.data.title for e in moved) == ["A", "B", "C"]
    assert all(e.data.changed == ["position"] for e in moved)
    stale = await client.put(
        f"{url}/items/order",
        json={"item_ids": order},
        headers={**auth, "If-Match": f'"v{version}"'},
    )
    assert stale.status_code == 412
