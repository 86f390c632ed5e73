"""The database-transaction cases of the test plan, on real PostgreSQL: rollback, foreign keys,
cascades, soft deletes, optimistic locking, races, deadlocks."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from events.retrying import retry_conflicts
from portfolio.container import Container
from portfolio.handlers.purge import purge_expired
from portfolio.testing import create, verified_owner
from servicekit.clock import FrozenClock
from servicekit.testing import Outbox, TokenIssuer


async def count(container: Container, sql: str, **params: object) -> int:
    async with container.engine.connect() as conn:
        return int((await conn.execute(text(sql), params)).scalar_one())


async def test_a_batch_that_fails_on_its_third_item_leaves_nothing_and_publishes_nothing(
    client: httpx.AsyncClient, container: Container, issuer: TokenIssuer, outbox: Outbox
) -> None:
    container.settings.max_items = 3
    owner = await verified_owner(container)
    auth = issuer.bearer(owner)
    portfolio = await create(client, auth)
    url = f"/portfolios/{portfolio['id']}"
    await client.post(f"{url}/items", json={"items": [{"title": "kept"}]}, headers=auth)
    await outbox.drain()
    refused = await client.post(
        f"{url}/items",
        json={"items": [{"title": "a"}, {"title": "b"}, {"title": "c"}]},
        headers=auth,
    )
    assert refused.status_code == 422
    assert refused.json()["type"].endswith("/too-many-items")
    assert await count(container, "SELECT count(*) FROM items") == 1, "the two first rolled back"
    assert await outbox.drain() == [], "and no event left"
    assert (await client.get(url, headers=auth)).json()["version"] == 2, "nor a version bump"


async def test_foreign_keys_hold_in_the_database_and_answer_as_problems(
    client: httpx.AsyncClient, container: Container, issuer: TokenIssuer
) -> None:
    owner = await verified_owner(container)
    auth = issuer.bearer(owner)
    missing = uuid.uuid4()
    on_missing = await client.post(
        f"/portfolios/{missing}/items", json={"items": [{"title": "x"}]}, headers=auth
    )
    assert (on_missing.status_code, on_missing.json()["type"].rsplit("/", 1)[-1]) == (
        404,
        "portfolio-not-found",
    )
    shared = await client.put(
        f"/portfolios/{missing}/collaborators/{owner}", json={"role": "viewer"}, headers=auth
    )
    assert shared.status_code == 404
    for statement in (
        "INSERT INTO items (id, portfolio_id, position, title, description, media_status, "
        "media_version, version, created_at, updated_at) VALUES (:id, :missing, 0, 't', '', "
        "'none', 0, 1, now(), now())",
        "INSERT INTO collaborators (portfolio_id, user_id, role, added_at) "
        "VALUES (:missing, :id, 'viewer', now())",
        "INSERT INTO portfolios (id, owner_id, title, slug, description, visibility, version, "
        "created_at, updated_at) VALUES (:id, :missing, 't', 's', '', 'public', 1, now(), now())",
    ):
        with pytest.raises(IntegrityError) as refused:
            async with container.engine.begin() as conn:
                await conn.execute(text(statement), {"id": uuid.uuid4(), "missing": missing})
        assert isinstance(refused.value.orig.__cause__, asyncpg.ForeignKeyViolationError)


async def test_the_purge_removes_items_and_collaborators_by_cascade_and_says_what_went(
    client: httpx.AsyncClient,
    container: Container,
    clock: FrozenClock,
    issuer: TokenIssuer,
    outbox: Outbox,
) -> None:
    owner, viewer = await verified_owner(container), await verified_owner(container, name="V")
    auth = issuer.bearer(owner)
    doomed = await create(client, auth, slug="doomed")
    kept = await create(client, auth, slug="kept")
    media = uuid.uuid4()
    for portfolio in (doomed, kept):
        url = f"/portfolios/{portfolio['id']}"
        await client.post(
            f"{url}/items",
            json={"items": [{"title": "a", "media_id": str(media)}, {"title": "b"}]},
            headers=auth,
        )
        await client.put(f"{url}/collaborators/{viewer}", json={"role": "viewer"}, headers=auth)
    version = (await client.get(f"/portfolios/{doomed['id']}", headers=auth)).json()["version"]
    await client.delete(
        f"/portfolios/{doomed['id']}", headers={**auth, "If-Match": f'"v{version}"'}
    )
    purge = container.bound(purge_expired)
    assert await purge() == 0, "nothing is purged within the retention window"
    clock.advance(container.settings.retention + timedelta(minutes=1))
    await outbox.drain()
    assert await purge() == 1
    by_portfolio = "SELECT count(*) FROM {} WHERE portfolio_id = :p"
    for table in ("items", "collaborators"):
        assert await count(container, by_portfolio.format(table), p=doomed["id"]) == 0
        assert await count(container, by_portfolio.format(table), p=kept["id"]) == 2 - (
            table == "collaborators"
        )
    [purged] = await outbox.drain()
    assert purged.type == "portfolio.purged.v1"
    assert (len(purged.data.item_ids), purged.data.media_ids) == (2, [media])
    assert await purge() == 0


async def test_two_changes_with_the_same_etag_at_once_one_wins_one_is_told(
    client: httpx.AsyncClient, container: Container, issuer: TokenIssuer, outbox: Outbox
) -> None:
    owner = await verified_owner(container)
    auth = {**issuer.bearer(owner), "If-Match": '"v1"'}
    portfolio = await create(client, issuer.bearer(owner))
    await outbox.drain()
    url = f"/portfolios/{portfolio['id']}"
    answers = await asyncio.gather(
        *(client.patch(url, json={"title": f"T{n}"}, headers=auth) for n in range(2))
    )
    assert sorted(a.status_code for a in answers) == [200, 412]
    assert [e.type for e in await outbox.drain()] == ["portfolio.updated.v1"]


async def test_concurrent_additions_get_distinct_positions(
    client: httpx.AsyncClient, container: Container, issuer: TokenIssuer
) -> None:
    owner = await verified_owner(container)
    auth = issuer.bearer(owner)
    portfolio = await create(client, auth)
    url = f"/portfolios/{portfolio['id']}/items"
    answers = await asyncio.gather(
        *(client.post(url, json={"items": [{"title": f"i{n}"}]}, headers=auth) for n in range(10))
    )
    assert [a.status_code for a in answers] == [201] * 10
    final = (await client.get(f"/portfolios/{portfolio['id']}", headers=auth)).json()
    assert sorted(i["position"] for i in final["items"]) == list(range(10))
    assert final["version"] == 11


async def test_concurrent_claims_of_one_slug_one_wins_the_rest_conflict(
    client: httpx.AsyncClient, container: Container, issuer: TokenIssuer
) -> None:
    owner = await verified_owner(container)
    answers = await asyncio.gather(
        *(
            client.post(
                "/portfolios", json={"title": "Same", "slug": "same"}, headers=issuer.bearer(owner)
            )
            for _ in range(5)
        )
    )
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409, 409]


async def test_a_real_deadlock_is_broken_by_postgresql_and_the_retry_succeeds(
    container: Container,
) -> None:
    async with container.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE accounts (id int PRIMARY KEY, balance int)"))
        await conn.execute(text("INSERT INTO accounts VALUES (1, 0), (2, 0)"))
    locked = {1: asyncio.Event(), 2: asyncio.Event()}
    attempts: list[int] = []

    def transfer(first: int, second: int) -> Coroutine[Any, Any, None]:
        async def run() -> None:
            attempts.append(first)
            async with container.engine.begin() as conn:
                await conn.execute(
                    text("UPDATE accounts SET balance = balance + 1 WHERE id = :i"), {"i": first}
                )
                locked[first].set()
                await asyncio.wait_for(locked[second].wait(), 10)  # the other holds `second`
                await conn.execute(
                    text("UPDATE accounts SET balance = balance + 1 WHERE id = :i"), {"i": second}
                )

        return retry_conflicts(run, base_delay_s=0.01)

    await asyncio.gather(transfer(1, 2), transfer(2, 1))
    assert len(attempts) == 3, "one of the two was chosen as the deadlock victim and retried"
    assert await count(container, "SELECT sum(balance) FROM accounts") == 4, "both applied once"
