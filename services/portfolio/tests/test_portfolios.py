"""Portfolios over HTTP: create, read with ETags, change with If-Match, list, delete, restore."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx

from portfolio.container import Container
from portfolio.testing import create, verified_owner
from servicekit.clock import FrozenClock
from servicekit.testing import Outbox, TokenIssuer


async def test_a_verified_owner_creates_a_portfolio_and_one_event_says_so(
    client: httpx.AsyncClient, container: Container, issuer: TokenIssuer, outbox: Outbox
) -> None:
    owner = await verified_owner(container, name="Ada Lovelace")
    response = await client.post(
        "/portfolios",
        json={"title": "Café Paintings", "visibility": "public"},
        headers=issuer.bearer(owner),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["slug"], body["owner_handle"], body["version"]) == (
        "cafe-paintings",
        "ada-lovelace",
        1,
    )
    assert response.headers["etag"] == '"v1"'
    assert response.headers["location"] == f"/portfolios/{body['id']}"
    [created] = await outbox.drain()
    assert created.type == "portfolio.created.v1"
    assert (created.data.version, created.data.visibility, str(created.subject)) == (
        1,
        "public",
        body["id"],
    )


async def test_an_unverified_or_unknown_user_may_not_create(
    client: httpx.AsyncClient, issuer: TokenIssuer, outbox: Outbox
) -> None:
    response = await client.post(
        "/portfolios", json={"title": "Mine"}, headers=issuer.bearer(uuid.uuid4())
    )
    assert response.status_code == 403
    assert response.json()["type"].endswith("/owner-not-verified")
    assert (await client.post("/portfolios", json={"title": "Mine"})).status_code == 401
    assert await outbox.drain() == []


async def test_bad_input_is_a_problem_naming_the_field(
    client: httpx.AsyncClient, container: Container, issuer: TokenIssuer
) -> None:
    owner = await verified_owner(container)
    bad = await client.post(
        "/portfolios",
        json={"title": "", "slug": "Not A Slug", "visibility": "secret"},
        headers=issuer.bearer(owner),
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    fields = {e["location"][-1] for e in bad.json()["errors"]}
    assert fields == {"title", "slug", "visibility"}


async def test_etags_guard_every_change(
    client: httpx.AsyncClient, container: Container, issuer: TokenIssuer, outbox: Outbox
) -> None:
    owner = await verified_owner(container)
    auth = issuer.bearer(owner)
    portfolio = await create(client, auth)
    url = f"/portfolios/{portfolio['id']}"
    assert (await client.get(url, headers={**auth, "If-None-Match": '"v1"'})).status_code == 304
    missing = await client.patch(url, json={"title": "New"}, headers=auth)
    assert missing.status_code == 428
    changed = await client.patch(url, json={"title": "New"}, headers={**auth, "If-Match": '"v1"'})
    assert changed.status_code == 200
    assert (changed.json()["version"], changed.headers["etag"]) == (2, '"v2"')
    stale = await client.patch(url, json={"title": "Old"}, headers={**auth, "If-Match": '"v1"'})
    assert stale.status_code == 412
    assert stale.json()["type"].endswith("/precondition-failed")
    assert (await client.get(url, headers=auth)).json()["title"] == "New"
    updated = [e for e in await outbox.drain() if e.type == "portfolio.updated.v1"]
    assert [(e.data.version, e.data.changed) for e in updated] == [(2, ["title"])]


async def test_a_slug_is_unique_per_owner_and_moves_with_the_event(
    client: httpx.AsyncClient, container: Container, issuer: TokenIssuer, outbox: Outbox
) -> None:
    owner, other = await verified_owner(container), await verified_owner(container, name="Bo")
    await create(client, issuer.bearer(owner), slug="work")
    taken = await client.post(
        "/portfolios", json={"title": "Again", "slug": "work"}, headers=issuer.bearer(owner)
    )
    assert taken.status_code == 409
    await create(client, issuer.bearer(other), slug="work")  # another owner's namespace
    second = await create(client, issuer.bearer(owner), slug="second")
    moved = await client.patch(
        f"/portfolios/{second['id']}",
        json={"slug": "work"},
        headers={**issuer.bearer(owner), "If-Match": '"v1"'},
    )
    assert moved.status_code == 409
    renamed = await client.patch(
        f"/portfolios/{second['id']}",
        json={"slug": "third"},
        headers={**issuer.bearer(owner), "If-Match": '"v1"'},
    )
    assert renamed.status_code == 200
    [event] = [e for e in await outbox.drain() if e.type == "portfolio.updated.v1"]
    assert (event.data.slug, event.data.previous_slug) == ("third", "second")


async def test_my_portfolios_are_paged_by_cursor_without_repeats(
    client: httpx.AsyncClient, container: Container, clock: FrozenClock, issuer: TokenIssuer
) -> None:
    owner = await verified_owner(container)
    made = []
    for n in range(5):
        clock.advance(timedelta(seconds=1))
        made.append((await create(client, issuer.bearer(owner), title=f"P{n}"))["id"])
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/portfolios", params=params, headers=issuer.bearer(owner))).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(made)), "newest first, each once"
    bad = await client.get("/portfolios?cursor=garbage", headers=issuer.bearer(owner))
    assert bad.status_code == 400


async def test_delete_hides_everywhere_frees_the_slug_and_restore_brings_it_back(
    client: httpx.AsyncClient,
    container: Container,
    clock: FrozenClock,
    issuer: TokenIssuer,
    outbox: Outbox,
) -> None:
    owner = await verified_owner(container)
    auth = issuer.bearer(owner)
    portfolio = await create(client, auth, slug="gallery", visibility="public")
    url = f"/portfolios/{portfolio['id']}"
    await client.post(f"{url}/items", json={"items": [{"title": "One"}]}, headers=auth)
    version = (await client.get(url, headers=auth)).json()["version"]
    assert (await client.delete(url, headers=auth)).status_code == 428
    deleted = await client.delete(url, headers={**auth, "If-Match": f'"v{version}"'})
    assert deleted.status_code == 204
    assert (await client.get(url, headers=auth)).status_code == 404
    assert (await client.get("/portfolios", headers=auth)).json()["items"] == []
    assert (await client.get("/public/ada-lovelace/gallery")).status_code == 404
    reuse = await create(client, auth, slug="gallery")  # the slug is free while deleted
    restore = await client.post(f"{url}/restore", headers=auth)
    assert restore.status_code == 409, "a live portfolio took the slug meanwhile"
    await client.delete(f"/portfolios/{reuse['id']}", headers={**auth, "If-Match": '"v1"'})
    restored = await client.post(f"{url}/restore", headers=auth)
    assert restored.status_code == 200
    assert [i["title"] for i in restored.json()["items"]] == ["One"], "items come back too"
    assert (await client.get("/public/ada-lovelace/gallery")).status_code == 200
    assert (await client.post(f"{url}/restore", headers=auth)).status_code == 409
    types = [e.type for e in await outbox.drain()]
    assert types.count("portfolio.deleted.v1") == 2 and "portfolio.restored.v1" in types


async def test_restore_is_refused_after_the_retention_window(
    client: httpx.AsyncClient, container: Container, clock: FrozenClock, issuer: TokenIssuer
) -> None:
    owner = await verified_owner(container)
    auth = issuer.bearer(owner)
    portfolio = await create(client, auth)
    url = f"/portfolios/{portfolio['id']}"
    await client.delete(url, headers={**auth, "If-Match": '"v1"'})
    clock.advance(container.settings.retention + timedelta(seconds=1))
    gone = await client.post(f"{url}/restore", headers=auth)
    assert gone.status_code == 410
    assert gone.json()["type"].endswith("/retention-over")
