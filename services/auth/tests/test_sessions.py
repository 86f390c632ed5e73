"""Login, throttling, access tokens, refresh rotation with reuse detection, logout."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text

from auth.container import Container
from auth.hashing import Argon2Cost, PasswordHasher
from auth.testing import PASSWORD, Outbox, active_user, login, register
from servicekit.clock import FrozenClock

PROBLEM = "https://portfolio.example/problems/"


async def test_the_first_login_is_flagged_once_and_audited(
    client: httpx.AsyncClient, container: Container, outbox: Outbox
) -> None:
    user_id, email = await active_user(client, outbox)
    await outbox.drain()
    first = await login(client, email)
    assert first.status_code == 200, first.text
    assert first.headers["cache-control"] == "no-store"
    body = first.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    second = await login(client, email.upper())
    assert second.status_code == 200
    events = await outbox.drain()
    assert [(e.type, e.data.first_login) for e in events] == [
        ("user.logged_in.v1", True),
        ("user.logged_in.v1", False),
    ]
    async with container.engine.connect() as conn:
        audit = (
            await conn.execute(
                text(
                    "SELECT outcome, first_login, client_address FROM login_attempts "
                    "WHERE user_id = :id ORDER BY at, id"
                ),
                {"id": user_id},
            )
        ).all()
    assert [tuple(r) for r in audit] == [
        ("success", True, "203.0.113.7"),
        ("success", False, "203.0.113.7"),
    ]


async def test_a_pending_account_is_refused_only_after_the_password_checks_out(
    client: httpx.AsyncClient,
) -> None:
    await register(client, "pending@example.org")
    wrong = await login(client, "pending@example.org", "wrong password here")
    assert wrong.status_code == 401
    right = await login(client, "pending@example.org")
    assert right.status_code == 403
    assert right.json()["type"] == PROBLEM + "email-not-verified"


async def test_an_unknown_email_looks_exactly_like_a_wrong_password(
    client: httpx.AsyncClient, outbox: Outbox
) -> None:
    _, email = await active_user(client, outbox)
    unknown = await login(client, "nobody@example.org")
    wrong = await login(client, email, "not the password")
    assert unknown.status_code == wrong.status_code == 401
    assert {k: v for k, v in unknown.json().items() if k != "instance"} == {
        k: v for k, v in wrong.json().items() if k != "instance"
    }


async def test_failed_logins_are_throttled_per_account(
    client: httpx.AsyncClient, outbox: Outbox, clock: FrozenClock
) -> None:
    _, email = await active_user(client, outbox)
    for _ in range(5):
        assert (await login(client, email, "wrong wrong wrong")).status_code == 401
    blocked = await login(client, email)  # even the right password waits
    assert blocked.status_code == 429
    assert blocked.json()["type"] == PROBLEM + "too-many-attempts"
    retry_after = int(blocked.headers["retry-after"])
    assert 0 < retry_after <= 15 * 60 + 1
    clock.advance(timedelta(seconds=retry_after))
    assert (await login(client, email)).status_code == 200


async def test_failed_logins_are_throttled_per_client_address(
    container: Container, client: httpx.AsyncClient, outbox: Outbox
) -> None:
    container.settings.login_max_failures_per_address = 3
    _, email = await active_user(client, outbox)
    for n in range(3):
        assert (await login(client, f"guess-{n}@example.org", "x" * 12)).status_code == 401
    assert (await login(client, email)).status_code == 429


async def test_an_access_token_opens_me_until_it_expires(
    client: httpx.AsyncClient, outbox: Outbox, clock: FrozenClock
) -> None:
    user_id, email = await active_user(client, outbox)
    token = (await login(client, email)).json()["access_token"]
    me = await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["id"] == user_id
    assert me.json()["email_deliverable"] is True
    assert (await client.get("/auth/me")).status_code == 401
    clock.advance(timedelta(minutes=15, seconds=1))
    expired = await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert expired.status_code == 401
    assert 'error="invalid_token"' in expired.headers["www-authenticate"]
    assert "expired" in expired.json()["detail"]


async def test_refresh_rotates_and_a_reused_token_ends_the_family(
    client: httpx.AsyncClient, outbox: Outbox
) -> None:
    _, email = await active_user(client, outbox)
    first = (await login(client, email)).json()
    rotated = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    third = (
        await client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    ).json()

    reused = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401
    assert reused.json()["type"] == PROBLEM + "refresh-token-reused"
    # The whole family is gone: the newest refresh token and its access token too.
    latest = await client.post("/auth/refresh", json={"refresh_token": third["refresh_token"]})
    assert latest.status_code == 401
    assert latest.json()["type"] == PROBLEM + "session-ended"
    me = await client.get("/auth/me", headers={"Authorization": f"Bearer {third['access_token']}"})
    assert me.status_code == 401
    # Other sessions of the same person are untouched.
    assert (await login(client, email)).status_code == 200


async def test_a_refresh_token_expires(
    client: httpx.AsyncClient, outbox: Outbox, clock: FrozenClock
) -> None:
    _, email = await active_user(client, outbox)
    pair = (await login(client, email)).json()
    clock.advance(timedelta(days=30, seconds=1))
    late = await client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert late.status_code == 401
    assert late.json()["type"] == PROBLEM + "invalid-refresh-token"


async def test_logout_revokes_the_session(client: httpx.AsyncClient, outbox: Outbox) -> None:
    _, email = await active_user(client, outbox)
    pair = (await login(client, email)).json()
    bearer = {"Authorization": f"Bearer {pair['access_token']}"}
    assert (await client.post("/auth/logout", headers=bearer)).status_code == 204
    assert (await client.get("/auth/me", headers=bearer)).status_code == 401
    refused = await client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refused.status_code == 401
    other = (await login(client, email)).json()
    by_refresh = await client.post("/auth/logout", json={"refresh_token": other["refresh_token"]})
    assert by_refresh.status_code == 204
    assert (await client.post("/auth/logout")).status_code == 401


async def test_garbage_tokens_are_401_problems(client: httpx.AsyncClient) -> None:
    for header in ("Bearer nope", "Basic abc", f"Bearer {uuid.uuid4()}"):
        response = await client.get("/auth/me", headers={"Authorization": header})
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
    missing = await client.post("/auth/refresh", json={"refresh_token": "unknown-token-0123456789"})
    assert missing.status_code == 401
    malformed = await client.post("/auth/refresh", json={"refresh_token": "not a token"})
    assert malformed.status_code == 422


async def test_password_hashing_runs_off_the_event_loop(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    real = container.hasher._argon2

    class Spy:
        def hash(self, password: str) -> str:
            threads.append(threading.current_thread().name)
            return real.hash(password)

    monkeypatch.setattr(container.hasher, "_argon2", Spy())
    await container.hasher.hash(PASSWORD)
    assert threads and threads[0].startswith("argon2")
    assert threads[0] != threading.main_thread().name


async def test_a_login_upgrades_an_outdated_hash(
    client: httpx.AsyncClient, container: Container, outbox: Outbox
) -> None:
    user_id, email = await active_user(client, outbox)
    container.hasher = PasswordHasher(Argon2Cost(time_cost=2, memory_cost_kib=8192))
    assert (await login(client, email)).status_code == 200
    async with container.engine.connect() as conn:
        stored = (
            await conn.execute(
                text("SELECT password_hash FROM users WHERE id = :id"), {"id": user_id}
            )
        ).scalar_one()
    assert ",t=2," in stored


async def test_the_event_loop_stays_responsive_while_passwords_hash(container: Container) -> None:
    """Production cost: a hash on the loop would stall it for its whole duration."""
    hasher = PasswordHasher(workers=2, budget_s=60)
    started = time.perf_counter()
    await hasher.hash(PASSWORD)
    one_hash = time.perf_counter() - started
    lags: list[float] = []
    done = asyncio.Event()

    async def probe() -> None:
        while not done.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append(time.perf_counter() - before - 0.005)

    probing = asyncio.create_task(probe())
    started = time.perf_counter()
    await asyncio.gather(*(hasher.hash(f"{PASSWORD} {n}") for n in range(8)))
    elapsed = time.perf_counter() - started
    done.set()
    await probing
    await hasher.aclose()
    assert elapsed > 2 * one_hash, "the load lasted several hashes"
    assert max(lags) < max(0.05, one_hash / 2), (max(lags), one_hash)


async def test_a_disabled_account_cannot_refresh(
    client: httpx.AsyncClient, container: Container, outbox: Outbox
) -> None:
    user_id, email = await active_user(client, outbox)
    pair = (await login(client, email)).json()
    async with container.engine.begin() as conn:
        await conn.execute(
            text("UPDATE users SET status = 'disabled' WHERE id = :id"), {"id": user_id}
        )
    refused = await client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refused.status_code == 401
    assert refused.json()["type"] == PROBLEM + "session-ended"
    bearer = {"Authorization": f"Bearer {pair['access_token']}"}
    assert (await client.get("/auth/me", headers=bearer)).status_code == 401
    again = await login(client, email)
    assert again.status_code == 403
    assert again.json()["type"] == PROBLEM + "account-disabled"


async def test_no_refresh_token_outlives_its_session(
    client: httpx.AsyncClient, container: Container, outbox: Outbox, clock: FrozenClock
) -> None:
    container.settings.session_max_age = timedelta(days=1)
    _, email = await active_user(client, outbox)
    pair = (await login(client, email)).json()
    assert pair["refresh_expires_in"] == 24 * 3600
    clock.advance(timedelta(hours=18))
    later = await client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert later.json()["refresh_expires_in"] == 6 * 3600
    clock.advance(timedelta(hours=6))
    ended = await client.post(
        "/auth/refresh", json={"refresh_token": later.json()["refresh_token"]}
    )
    assert ended.status_code == 401
    assert ended.json()["type"] == PROBLEM + "invalid-refresh-token"


async def test_concurrent_refreshes_of_one_token_let_one_through_and_end_the_family(
    client: httpx.AsyncClient, outbox: Outbox
) -> None:
    """Strict rotation: two parties presenting the same token at once is what theft looks like."""
    _, email = await active_user(client, outbox)
    token = (await login(client, email)).json()["refresh_token"]
    answers = await asyncio.gather(
        *(client.post("/auth/refresh", json={"refresh_token": token}) for _ in range(5))
    )
    assert sorted(a.status_code for a in answers) == [200, 401, 401, 401, 401]
    winner = next(a for a in answers if a.status_code == 200).json()
    after = await client.post("/auth/refresh", json={"refresh_token": winner["refresh_token"]})
    assert after.json()["type"] == PROBLEM + "session-ended"
