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


async def test_guesses_from_one_network_do_not_lock_the_owner_out_from_theirs(
    container: Container, client: httpx.AsyncClient, outbox: Outbox
) -> None:
    _, email = await active_user(client, outbox)
    transport = httpx.ASGITransport(app=api_app(SERVICE, container), client=("192.0.2.66", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://auth") as attacker:
        codes = [(await login(attacker, email, f"guess {n}")).status_code for n in range(7)]
    assert codes == [401] * 5 + [429] * 2, "the guessing network is refused on this account"
    assert (await login(client, email)).status_code == 200, "the owner is not locked out"


async def test_an_ipv6_guesser_rotating_addresses_in_its_64_is_one_network(
    container: Container, client: httpx.AsyncClient, outbox: Outbox
) -> None:
    _, email = await active_user(client, outbox)
    codes = []
    for n in range(7):
        transport = httpx.ASGITransport(
            app=api_app(SERVICE, container), client=(f"2001:db8:aa:bb::{n + 1:x}", 1)
        )
        async with httpx.AsyncClient(transport=transport, base_url="http://auth") as rotating:
            codes.append((await login(rotating, email, f"guess {n}")).status_code)
    assert codes == [401] * 5 + [429] * 2
    other = httpx.ASGITransport(app=api_app(SERVICE, container), client=("2001:db8:aa:cc::1", 1))
    async with httpx.AsyncClient(transport=other, base_url="http://auth") as neighbour:
        assert (await login(neighbour, email)).status_code == 200, "another /64 is not blocked"


async def test_guesses_from_many_networks_space_attempts_instead_of_blocking(
    container: Container, client: httpx.AsyncClient, outbox: Outbox, clock: FrozenClock
) -> None:
    settings = container.settings
    settings.login_account_slow_after = 6
    settings.login_account_delay = timedelta(seconds=30)
    _, email = await active_user(client, outbox)

    async def from_network(n: int, password: str) -> httpx.Response:
        transport = httpx.ASGITransport(
            app=api_app(SERVICE, container), client=(f"198.51.100.{n}", 1)
        )
        async with httpx.AsyncClient(transport=transport, base_url="http://auth") as botnet:
            return await login(botnet, email, password)

    for n in range(6):  # a botnet: few guesses from each of many networks
        assert (await from_network(n + 1, "a botnet guess")).status_code == 401
    spaced = await from_network(50, "another guess")
    assert spaced.status_code == 429
    assert 0 < int(spaced.headers["retry-after"]) <= 30, "a delay, never a lockout"
    owner = await login(client, email)
    assert owner.status_code == 429, "the owner waits the same short delay"
    clock.advance(timedelta(seconds=int(owner.headers["retry-after"])))
    assert (await login(client, email)).status_code == 200, "and then gets in"
