"""The public-page cache on a real Redis: cache-aside, cleared by every change, and never a
reason for a read to fail."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import text

from events.contracts import PortfolioUpdatedV1
from events.testing import delivery, example_event, scrape_registry
from portfolio.bootstrap import SERVICE
from portfolio.cache import CacheUnavailable
from portfolio.config import Settings
from portfolio.container import Container, build
from portfolio.handlers.cache import clear_cached_page
from portfolio.testing import create, verified_owner
from servicekit.testing import TokenIssuer, api_client

CACHE = "portfolio_cache_requests_total"


async def test_a_public_page_is_cached_then_cleared_by_a_change(
    client: httpx.AsyncClient,
    container: Container,
    issuer: TokenIssuer,
    redis: Redis,
    settings: Settings,
) -> None:
    owner = await verified_owner(container, name="Ada Lovelace")
    auth = issuer.bearer(owner)
    portfolio = await create(client, auth, title="Before", slug="page", visibility="public")
    key = f"{settings.redis.key_prefix}:page:ada-lovelace:page"
    before = scrape_registry()
    first = await client.get("/public/ada-lovelace/page")
    assert first.json()["title"] == "Before"
    assert await redis.exists(key) == 1
    async with container.engine.begin() as conn:  # behind the cache's back
        await conn.execute(text("UPDATE portfolios SET title = 'Sneaked'"))
    second = await client.get("/public/ada-lovelace/page")
    assert second.json()["title"] == "Before", "served from the cache"
    assert (
        await client.get(
            "/public/ada-lovelace/page", headers={"If-None-Match": second.headers["etag"]}
        )
    ).status_code == 304
    changed = await client.patch(
        f"/portfolios/{portfolio['id']}",
        json={"title": "After"},
        headers={**auth, "If-Match": '"v1"'},
    )
    assert changed.status_code == 200
    assert await redis.exists(key) == 0, "the change cleared the cached page"
    assert (await client.get("/public/ada-lovelace/page")).json()["title"] == "After"
    after = scrape_registry()
    lookups = {
        result: after.total(CACHE, result=result) - before.total(CACHE, result=result)
        for result in ("hit", "miss", "error")
    }
    assert lookups == {"hit": 2, "miss": 2, "error": 0}, "miss, hit, hit (304), miss after change"


async def test_only_public_and_unlisted_pages_are_public(
    client: httpx.AsyncClient, container: Container, issuer: TokenIssuer
) -> None:
    owner = await verified_owner(container, name="Ada Lovelace")
    for visibility in ("public", "unlisted", "private"):
        await create(client, issuer.bearer(owner), slug=visibility, visibility=visibility)
    codes = [
        (await client.get(f"/public/ada-lovelace/{v}")).status_code
        for v in ("public", "unlisted", "private")
    ]
    assert codes == [200, 200, 404]
    assert (await client.get("/public/nobody/public")).status_code == 404


@pytest.fixture
async def cacheless(
    settings: Settings, issuer: TokenIssuer
) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    down = settings.model_copy(
        update={
            "redis": settings.redis.model_copy(update={"url": SecretStr("redis://127.0.0.1:1/0")})
        }
    )
    container = build(down)
    await container.verifier.close()
    container.verifier = issuer.verifier()
    async with api_client(SERVICE, container) as client:
        yield container, client
    await container.close()


async def test_with_the_cache_down_reads_and_writes_still_work_and_readiness_says_degraded(
    cacheless: tuple[Container, httpx.AsyncClient], issuer: TokenIssuer
) -> None:
    container, client = cacheless
    owner = await verified_owner(container, name="Ada Lovelace")
    auth = issuer.bearer(owner)
    portfolio = await create(client, auth, slug="page", visibility="public")
    assert (await client.get("/public/ada-lovelace/page")).status_code == 200
    changed = await client.patch(
        f"/portfolios/{portfolio['id']}",
        json={"title": "New"},
        headers={**auth, "If-Match": '"v1"'},
    )
    assert changed.status_code == 200
    assert (await client.get("/public/ada-lovelace/page")).json()["title"] == "New"
    checks = (await client.get("/readyz")).json()["checks"]
    assert checks["cache"].startswith("degraded: cache unreachable")
    assert checks["database"] == "ok"


async def test_the_event_consumer_clears_both_slugs_and_fails_loudly_while_the_cache_is_down(
    client: httpx.AsyncClient,
    container: Container,
    issuer: TokenIssuer,
    redis: Redis,
    settings: Settings,
    cacheless: tuple[Container, httpx.AsyncClient],
) -> None:
    owner = await verified_owner(container, name="Ada Lovelace")
    portfolio = await create(client, issuer.bearer(owner), slug="new", visibility="public")
    prefix = f"{settings.redis.key_prefix}:page:ada-lovelace"
    await redis.set(f"{prefix}:old", b"{}")
    await redis.set(f"{prefix}:new", b"{}")
    event = example_event(
        PortfolioUpdatedV1,
        portfolio_id=portfolio["id"],
        owner_id=owner,
        slug="new",
        previous_slug="old",
        changed=["slug"],
    )
    await container.bound(clear_cached_page)(delivery(event, "portfolio.cache"))
    assert await redis.exists(f"{prefix}:old", f"{prefix}:new") == 0
    down, _ = cacheless  # the same database, the cache unreachable
    with pytest.raises(CacheUnavailable):
        await down.bound(clear_cached_page)(delivery(event, "portfolio.cache"))
