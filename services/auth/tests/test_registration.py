"""Registration and email verification, every step and every refusal, on the real database."""

from __future__ import annotations

import asyncio
import unicodedata
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text

from auth.container import Container
from auth.testing import PASSWORD, Outbox, active_user, login, register
from servicekit.clock import FrozenClock

PROBLEM = "https://portfolio.example/problems/"


async def row(container: Container, sql: str, **params: object) -> dict[str, object]:
    async with container.engine.connect() as conn:
        result = (await conn.execute(text(sql), params)).mappings().first()
    assert result is not None, f"no row for {sql} {params}"
    return dict(result)


async def test_registration_creates_a_pending_user_and_its_two_events(
    client: httpx.AsyncClient, container: Container, outbox: Outbox
) -> None:
    response = await register(
        client, "Ada@Example.ORG", display_name="  Ada  ", **{"X-Correlation-ID": "signup-1"}
    )
    assert response.status_code == 201, response.text
    user_id = response.json()["id"]
    assert response.json()["status"] == "pending"
    user = await row(container, "SELECT * FROM users WHERE id = :id", id=user_id)
    assert (user["email"], user["email_key"], user["status"], user["display_name"]) == (
        "Ada@example.org",
        "ada@example.org",
        "pending",
        "Ada",
    )
    assert str(user["password_hash"]).startswith("$argon2id$")
    assert PASSWORD not in str(user["password_hash"])

    events = await outbox.drain()
    assert [e.type for e in events] == ["user.registered.v1", "user.verification_requested.v1"]
    assert {e.correlationid for e in events} == {"signup-1"}
    assert {e.subject for e in events} == {user_id}
    registered, requested = events
    assert registered.data.email == "Ada@example.org"
    assert len(requested.data.token) >= 43
    stored = await row(
        container, "SELECT token_hash FROM verification_tokens WHERE user_id = :id", id=user_id
    )
    assert stored["token_hash"] != requested.data.token, "the token must be stored hashed"


async def test_the_same_email_in_any_case_is_one_account(client: httpx.AsyncClient) -> None:
    assert (await register(client, "grace@example.org")).status_code == 201
    again = await register(client, "GRACE@EXAMPLE.ORG")
    assert again.status_code == 409
    assert again.json()["type"] == PROBLEM + "email-taken"


async def test_a_hundred_concurrent_registrations_of_one_email_make_one_account(
    client: httpx.AsyncClient, container: Container, outbox: Outbox
) -> None:
    responses = await asyncio.gather(*(register(client, "race@example.org") for _ in range(100)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * 99
    count = await row(container, "SELECT count(*) AS n FROM users")
    assert count["n"] == 1
    assert (await outbox.types()).count("user.registered.v1") == 1


@pytest.mark.parametrize(
    ("body", "status", "problem"),
    [
        ({"email": "not-an-email"}, 422, "invalid-email"),
        ({"email": "ada@localhost"}, 422, "invalid-email"),
        ({"password": "short1!"}, 422, "password-too-short"),
        ({"password": "x" * 129}, 422, "password-too-long"),
        ({"password": "iloveyou"}, 422, "password-too-common"),
        ({"password": "Password1"}, 422, "password-too-common"),
        (
            {"email": "ada.lovelace@example.org", "password": "ada.lovelace"},
            422,
            "password-is-identity",
        ),
        ({"display_name": "   "}, 422, "invalid-display-name"),
        ({"display_name": "Ada\r\nBcc: everyone@example.org"}, 422, "invalid-display-name"),
        ({"password": "Someone2024!"}, 422, "password-is-identity"),
        ({"password": "aaaaaaaaaaaa"}, 422, "password-too-simple"),
        ({"password": "x" * 2000}, 422, "validation"),
        ({"email": "a" * 400 + "@example.org"}, 422, "validation"),
        ({"display_name": None}, 422, "validation"),
    ],
)
async def test_every_refusal_is_a_clear_problem_and_creates_nothing(
    client: httpx.AsyncClient,
    container: Container,
    outbox: Outbox,
    body: dict[str, object],
    status: int,
    problem: str,
) -> None:
    payload = {
        "email": "someone@example.org",
        "password": PASSWORD,
        "display_name": "Someone",
        **body,
    }
    response = await client.post("/auth/register", json=payload)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == PROBLEM + problem
    assert response.json()["detail"]
    assert (await row(container, "SELECT count(*) AS n FROM users"))["n"] == 0
    assert await outbox.drain() == []


async def test_verification_activates_the_account_once(
    client: httpx.AsyncClient, container: Container, outbox: Outbox
) -> None:
    user_id = (await register(client, "lin@example.org")).json()["id"]
    token = await outbox.token_for("lin@example.org")
    verified = await client.post("/auth/verify", json={"token": token})
    assert verified.status_code == 200
    assert verified.json()["status"] == "active"
    user = await row(container, "SELECT status, verified_at FROM users WHERE id = :id", id=user_id)
    assert user["status"] == "active" and user["verified_at"] is not None
    assert [e.type for e in await outbox.drain()] == ["user.verified.v1"]

    again = await client.post("/auth/verify", json={"token": token})
    assert again.status_code == 409
    assert again.json()["type"] == PROBLEM + "verification-token-used"
    assert await outbox.drain() == []


async def test_unknown_and_expired_tokens_are_refused_distinctly(
    client: httpx.AsyncClient, outbox: Outbox, clock: FrozenClock
) -> None:
    unknown = await client.post("/auth/verify", json={"token": "x" * 43})
    assert unknown.status_code == 400
    assert unknown.json()["type"] == PROBLEM + "verification-token-unknown"
    await register(client, "late@example.org")
    token = await outbox.token_for("late@example.org")
    clock.advance(timedelta(hours=24, seconds=1))
    expired = await client.post("/auth/verify", json={"token": token})
    assert expired.status_code == 410
    assert expired.json()["type"] == PROBLEM + "verification-token-expired"


async def test_a_resend_supersedes_the_old_link_and_is_rate_limited(
    client: httpx.AsyncClient, outbox: Outbox, clock: FrozenClock
) -> None:
    await register(client, "again@example.org")
    first = await outbox.token_for("again@example.org")
    await outbox.drain()

    async def resend() -> list[str]:
        response = await client.post("/auth/verify/resend", json={"email": "Again@example.org"})
        assert response.status_code == 202
        return [e.type for e in await outbox.drain()]

    assert await resend() == [], "a second link within a minute is not sent"
    clock.advance(timedelta(minutes=1, seconds=1))
    assert await resend() == ["user.verification_requested.v1"]
    second = await outbox.token_for("again@example.org")
    assert second != first
    stale = await client.post("/auth/verify", json={"token": first})
    assert stale.status_code == 410
    assert "newer link" in stale.json()["detail"]
    for _ in range(3):
        clock.advance(timedelta(minutes=2))
        assert await resend() == ["user.verification_requested.v1"]
    clock.advance(timedelta(minutes=2))
    assert await resend() == [], "five links a day at most"
    assert (
        await client.post(
            "/auth/verify", json={"token": await outbox.token_for("again@example.org")}
        )
    ).status_code == 200


async def test_a_resend_never_reveals_whether_an_account_exists(
    client: httpx.AsyncClient, outbox: Outbox
) -> None:
    nobody = await client.post("/auth/verify/resend", json={"email": "nobody@example.org"})
    assert nobody.status_code == 202
    assert nobody.json() == {"status": "accepted"}
    assert await outbox.drain() == []


async def test_an_invalid_address_is_explained(client: httpx.AsyncClient) -> None:
    response = await register(client, "ada@example")
    assert response.status_code == 422
    assert response.json()["type"] == PROBLEM + "invalid-email"
    assert "period" in response.json()["detail"]  # email-validator says what is wrong with it


async def test_a_password_is_the_same_however_its_accents_were_typed(
    client: httpx.AsyncClient, outbox: Outbox
) -> None:
    composed = unicodedata.normalize("NFC", "crème brûlée à la façon")
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    email = "chef@example.org"
    assert (await register(client, email, password=composed)).status_code == 201
    token = await outbox.token_for(email)
    assert (await client.post("/auth/verify", json={"token": token})).status_code == 200
    assert (await login(client, email, decomposed)).status_code == 200


async def test_a_verified_account_gets_no_new_link(
    client: httpx.AsyncClient, outbox: Outbox
) -> None:
    """Same 202 as for anyone else, but nothing is sent: the link would be useless."""
    _, email = await active_user(client, outbox)
    await outbox.drain()
    response = await client.post("/auth/verify/resend", json={"email": email})
    assert response.status_code == 202
    assert await outbox.drain() == []
