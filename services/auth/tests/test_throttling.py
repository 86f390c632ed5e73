"""Failed-login throttling on the real database: concurrency, sliding windows, the audit."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import timedelta

import httpx
from sqlalchemy import text

from auth.bootstrap import SERVICE
from auth.container import Container
from auth.testing import Outbox, active_user, login
from servicekit.clock import FrozenClock
from servicekit.runner import api_app

PROBLEM = "https://portfolio.example/problems/"


async def outcomes(container: Container, email: str) -> Counter[str]:
    async with container.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT outcome FROM login_attempts WHERE email_key = :k"), {"k": email.lower()}
        )
        return Counter(r.outcome for r in rows)


async def test_concurrent_guesses_cannot_race_past_the_limit(
    client: httpx.AsyncClient, container: Container, outbox: Outbox
) -> None:
    _, email = await active_user(client, outbox)
    responses = await asyncio.gather(*(login(client, email, f"guess {n:04}") for n in range(20)))
    assert Counter(r.status_code for r in responses) == {401: 5, 429: 15}
    assert await outcomes(container, email) == {"bad_credentials": 5, "throttled": 15}


async def test_a_success_restarts_the_accounts_count(
    client: httpx.AsyncClient, outbox: Outbox
) -> None:
    _, email = await active_user(client, outbox)
    for _ in range(4):
        assert (await login(client, email, "a typo in it")).status_code == 401
    assert (await login(client, email)).status_code == 200
    for _ in range(5):
        assert (await login(client, email, "another typo")).status_code == 401
    assert (await login(client, email)).status_code == 429


async def test_an_address_guessing_at_many_accounts_is_throttled_whatever_it_knows(
    container: Container, client: httpx.AsyncClient, outbox: Outbox
) -> None:
    container.settings.login_max_failures_per_address = 3
    _, email = await active_user(client, outbox)
    for n in range(2):
        assert (await login(client, f"guess-{n}@example.org", "x" * 12)).status_code == 401
    # Logging into an account of its own does not reset the address's count.
    assert (await login(client, email)).status_code == 200
    assert (await login(client, "guess-9@example.org", "x" * 12)).status_code == 401
    refused = await login(client, "someone-else@example.org", "x" * 12)
    assert refused.status_code == 429


async def test_other_addresses_are_not_slowed_by_one_addresss_guessing(
    container: Container, client: httpx.AsyncClient, outbox: Outbox
) -> None:
    container.settings.login_max_failures_per_address = 2
    _, email = await active_user(client, outbox)
    for n in range(2):
        await login(client, f"guess-{n}@example.org", "x" * 12)
    assert (await login(client, email)).status_code == 429
    elsewhere = httpx.ASGITransport(app=api_app(SERVICE, container), client=("198.51.100.2", 1))
    async with httpx.AsyncClient(transport=elsewhere, base_url="http://auth") as other:
        assert (await login(other, email)).status_code == 200


async def test_retry_after_is_when_the_window_reopens(
    client: httpx.AsyncClient, outbox: Outbox, clock: FrozenClock
) -> None:
    _, email = await active_user(client, outbox)
    for _ in range(5):  # one failure a minute, from t0 to t0+4m
        assert (await login(client, email, "wrong password")).status_code == 401
        clock.advance(timedelta(minutes=1))
    # Now t0+5m; the window reopens when the failure of t0 leaves it, at t0+15m.
    blocked = await login(client, email)
    assert blocked.status_code == 429
    assert blocked.headers["retry-after"] == str(10 * 60)
    assert blocked.json()["retry_after"] == 10 * 60
    assert "600 seconds" in blocked.json()["detail"]
    clock.advance(timedelta(minutes=10) - timedelta(seconds=1))
    assert (await login(client, email)).status_code == 429
    clock.advance(timedelta(seconds=1))
    assert (await login(client, email)).status_code == 200


async def test_throttled_knocking_does_not_extend_the_wait(
    client: httpx.AsyncClient, outbox: Outbox, clock: FrozenClock
) -> None:
    _, email = await active_user(client, outbox)
    for _ in range(5):
        await login(client, email, "wrong password")
    first = int((await login(client, email)).headers["retry-after"])
    clock.advance(timedelta(minutes=5))
    for _ in range(10):
        assert (await login(client, email, "still guessing")).status_code == 429
    assert int((await login(client, email)).headers["retry-after"]) == first - 5 * 60


async def test_an_unknown_email_is_throttled_like_a_real_one(
    client: httpx.AsyncClient, container: Container
) -> None:
    nobody = f"nobody-{uuid.uuid4().hex[:6]}@example.org"
    codes = [(await login(client, nobody, "wrong password")).status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]
    assert await outcomes(container, nobody) == {"bad_credentials": 5, "throttled": 1}


async def test_the_audit_keeps_every_outcome_and_never_the_password(
    client: httpx.AsyncClient, container: Container, outbox: Outbox
) -> None:
    _, email = await active_user(client, outbox)
    await login(client, email, "my secret guess")
    await login(client, email)
    async with container.engine.connect() as conn:
        rows = (
            (
                await conn.execute(
                    text("SELECT * FROM login_attempts WHERE email_key = :k ORDER BY id"),
                    {"k": email.lower()},
                )
            )
            .mappings()
            .all()
        )
    assert [(r["outcome"], r["first_login"]) for r in rows] == [
        ("bad_credentials", False),
        ("success", True),
    ]
    assert all(r["user_id"] is not None and r["client_address"] == "203.0.113.7" for r in rows)
    assert "my secret guess" not in repr(rows)
