"""Password reset and logging out everywhere: a link proves the address, a new password ends
every session; the answer to a request never says whether the address has an account."""

from __future__ import annotations

from datetime import timedelta

import httpx

from auth.container import Container
from auth.testing import PASSWORD, Outbox, active_user, login, register
from events.contracts import UserPasswordResetRequestedV1
from servicekit.clock import FrozenClock

PROBLEM = "https://portfolio.example/problems/"
NEW = "a brand new passphrase"


async def reset_token(outbox: Outbox, email: str) -> str:
    await outbox.drain()
    tokens = [
        e.data.token
        for e in outbox.events
        if isinstance(e.data, UserPasswordResetRequestedV1) and e.data.email == email
    ]
    assert tokens, f"no reset was requested for {email}"
    return tokens[-1]


async def forgot(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post("/auth/password/forgot", json={"email": email})


async def test_a_reset_sets_the_password_and_ends_every_session(
    client: httpx.AsyncClient, outbox: Outbox
) -> None:
    _, email = await active_user(client, outbox)
    sessions = [(await login(client, email)).json() for _ in range(2)]
    asked = await forgot(client, email)
    assert asked.status_code == 202
    token = await reset_token(outbox, email)
    done = await client.post("/auth/password/reset", json={"token": token, "password": NEW})
    assert done.status_code == 204, done.text
    for pair in sessions:
        bearer = {"Authorization": f"Bearer {pair['access_token']}"}
        assert (await client.get("/auth/me", headers=bearer)).status_code == 401
        refreshed = await client.post(
            "/auth/refresh", json={"refresh_token": pair["refresh_token"]}
        )
        assert refreshed.status_code == 401
    assert (await login(client, email, PASSWORD)).status_code == 401
    assert (await login(client, email, NEW)).status_code == 200
    again = await client.post("/auth/password/reset", json={"token": token, "password": NEW})
    assert (again.status_code, again.json()["type"]) == (410, PROBLEM + "reset-token-expired")


async def test_a_request_for_an_unknown_address_looks_the_same_and_sends_nothing(
    client: httpx.AsyncClient, outbox: Outbox
) -> None:
    _, email = await active_user(client, outbox)
    await outbox.drain()
    known, unknown = await forgot(client, email), await forgot(client, "nobody@example.org")
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    assert [e.type for e in await outbox.drain()] == ["user.password_reset_requested.v1"]


async def test_only_the_newest_link_works_and_links_expire(
    client: httpx.AsyncClient, outbox: Outbox, clock: FrozenClock, container: Container
) -> None:
    _, email = await active_user(client, outbox)
    await forgot(client, email)
    first = await reset_token(outbox, email)
    await forgot(client, email)
    second = await reset_token(outbox, email)
    stale = await client.post("/auth/password/reset", json={"token": first, "password": NEW})
    assert stale.status_code == 410
    clock.advance(container.settings.reset_token_ttl + timedelta(seconds=1))
    late = await client.post("/auth/password/reset", json={"token": second, "password": NEW})
    assert late.status_code == 410
    unknown = await client.post("/auth/password/reset", json={"token": "u" * 43, "password": NEW})
    assert (unknown.status_code, unknown.json()["type"]) == (404, PROBLEM + "reset-token-unknown")


async def test_the_new_password_follows_the_policy(
    client: httpx.AsyncClient, outbox: Outbox
) -> None:
    _, email = await active_user(client, outbox)
    await forgot(client, email)
    token = await reset_token(outbox, email)
    weak = await client.post(
        "/auth/password/reset", json={"token": token, "password": "password1234"}
    )
    assert (weak.status_code, weak.json()["type"]) == (422, PROBLEM + "password-too-common")
    short = await client.post("/auth/password/reset", json={"token": token, "password": "short"})
    assert short.status_code == 422
    ok = await client.post("/auth/password/reset", json={"token": token, "password": NEW})
    assert ok.status_code == 204, "a refused password does not spend the link"


async def test_the_owner_takes_back_an_address_someone_registered_first(
    client: httpx.AsyncClient, outbox: Outbox
) -> None:
    # An attacker registered the victim's address with their own password (never verified).
    await register(client, "taken@example.org", password="the attackers passphrase")
    await outbox.drain()
    await forgot(client, "taken@example.org")
    token = await reset_token(outbox, "taken@example.org")
    done = await client.post("/auth/password/reset", json={"token": token, "password": NEW})
    assert done.status_code == 204
    assert "user.verified.v1" in [e.type for e in await outbox.drain()], "the link proved it"
    assert (await login(client, "taken@example.org", NEW)).status_code == 200
    assert (await login(client, "taken@example.org", "the attackers passphrase")).status_code == 401


async def test_logging_out_everywhere_ends_every_session_of_the_account(
    client: httpx.AsyncClient, outbox: Outbox
) -> None:
    _, email = await active_user(client, outbox)
    _, other_email = await active_user(client, outbox)
    mine = [(await login(client, email)).json() for _ in range(3)]
    theirs = (await login(client, other_email)).json()
    bearer = {"Authorization": f"Bearer {mine[0]['access_token']}"}
    assert (await client.post("/auth/logout/all", headers=bearer)).status_code == 204
    for pair in mine:
        refreshed = await client.post(
            "/auth/refresh", json={"refresh_token": pair["refresh_token"]}
        )
        assert refreshed.status_code == 401
    assert (await client.post("/auth/logout/all", headers=bearer)).status_code == 401
    still = {"Authorization": f"Bearer {theirs['access_token']}"}
    assert (await client.get("/auth/me", headers=still)).status_code == 200
    assert (await client.post("/auth/logout/all")).status_code == 401


async def test_tokens_are_never_cached(client: httpx.AsyncClient, outbox: Outbox) -> None:
    _, email = await active_user(client, outbox)
    logged_in = await login(client, email)
    assert logged_in.headers["cache-control"] == "no-store"
    refreshed = await client.post(
        "/auth/refresh", json={"refresh_token": logged_in.json()["refresh_token"]}
    )
    assert refreshed.headers["cache-control"] == "no-store"
    assert refreshed.headers["x-content-type-options"] == "nosniff"
