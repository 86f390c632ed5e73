"""Registration and email verification, every step and every refusal, on the real database."""

from __future__ import annotations

import asyncio
import unicodedata
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text

from auth.container import Container
from auth.testing import PASSWORD, Outbox, active_user, login, register, user_id_of
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
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "accepted"
    user_id = await user_id_of(outbox, "Ada@example.org")
    user = await row(container, "SELECT * FROM users WHERE id = :id", id=user_id)
    assert (user["email"], user["email_key"], user["status"], user["display_name"]) == (
        "Ada@example.org",
        "ada@example.org",
        "pending",
        "Ada",
    )
    assert str(user["password_hash"]).startswith("$argon2id$")
    assert PASSWORD not in str(user["password_hash"])

    events = outbox.events
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


async def test_the_same_email_in_any_case_is_one_account_and_the_answer_never_says_so(
    client: httpx.AsyncClient, container: Container, outbox: Outbox
) -> None:
    first = await register(client, "grace@example.org")
    before = await row(container, "SELECT * FROM users WHERE email_key = 'grace@example.org'")
    await outbox.drain()
    again = await register(client, "GRACE@EXAMPLE.ORG", password="another passphrase here")
    # No oracle: the same status, body and headers (but the ids) for a new and a known address.
    assert (
        (again.status_code, again.json())
        == (first.status_code, first.json())
        == (
            202,
            {
                "status": "accepted",
                "detail": "If this address can be registered, we have sent it an email: follow the "
                "link in it.",
            },
        )
    )
    varying = {"x-request-id", "x-correlation-id", "content-length"}
    assert {k: v for k, v in again.headers.items() if k not in varying} == {
        k: v for k, v in first.headers.items() if k not in varying
    }
    after = await row(container, "SELECT * FROM users WHERE email_key = 'grace@example.org'")
    assert after == before, "an attempt changes nothing in the account"
    [attempt] = await outbox.drain()
    assert attempt.type == "user.signup_attempted.v1"
    assert (attempt.data.email, attempt.data.display_name) == ("grace@example.org", "Ada Lovelace")


async def test_a_known_address_costs_the_same_hash_as_a_new_one(
    client: httpx.AsyncClient, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[str] = []
    real = container.hasher.hash

    async def counting(password: str) -> str:
        hashed.append(password)
        return await real(password)

    monkeypatch.setattr(container.hasher, "hash", counting)
    await register(client, "twice@example.org")
    await register(client, "twice@example.org", password="a different passphrase")
    assert len(hashed) == 2, "the known address is hashed too, so it answers in the same time"


async def test_a_hundred_concurrent_registrations_of_one_email_make_one_account(
    client: httpx.AsyncClient, container: Container, outbox: Outbox
) -> None:
    responses = await asyncio.gather(*(register(client, "race@example.org") for _ in range(100)))
    codes = sorted(r.status_code for r in responses)
    limit = container.settings.requests_max_per_target
    assert codes == [202] * limit + [429] * (100 - limit), "one inbox gets a few emails at most"
    count = await row(container, "SELECT count(*) AS n FROM users")
    assert count["n"] == 1
    types = await outbox.types()
    assert types.count("user.registered.v1") == 1
    assert types.count("user.signup_attempted.v1") <= limit - 1


@pytest.mark.parametrize(
    ("body", "status", "problem"),
    [
        ({"email": "not-an-email"}, 422, "validation"),
        ({"email": "ada@localhost"}, 422, "validation"),
        ({"email": "\u0000"}, 422, "validation"),
        ({"password": "short1!"}, 422, "validation"),
        ({"password": "eleven char"}, 422, "validation"),
        ({"password": "x" * 129}, 422, "validation"),
        ({"password": "iloveyou2024!"}, 422, "password-too-common"),
        ({"password": "Password1234"}, 422, "password-too-common"),
        (
            {"email": "ada.lovelace@example.org", "password": "ada.lovelace"},
            422,
            "password-is-identity",
        ),
        ({"display_name": "   "}, 422, "validation"),
        ({"display_name": "Ada\r\nBcc: everyone@example.org"}, 422, "validation"),
        ({"display_name": "\u2028"}, 422, "validation"),
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
    await register(client, "lin@example.org")
    user_id = await user_id_of(outbox, "lin@example.org")
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
    assert unknown.status_code == 404
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
    assert nobody.json()["status"] == "accepted"
    assert await outbox.drain() == []
    await register(client, "somebody@example.org")
    await outbox.drain()
    somebody = await client.post("/auth/verify/resend", json={"email": "somebody@example.org"})
    assert (somebody.status_code, somebody.json()) == (nobody.status_code, nobody.json())


async def test_an_invalid_address_is_explained(client: httpx.AsyncClient) -> None:
    response = await register(client, "ada@example")
    assert response.status_code == 422
    assert response.json()["type"] == PROBLEM + "validation"
    assert "period" in response.json()["detail"]  # email-validator says what is wrong with it


async def test_a_password_is_the_same_however_its_accents_were_typed(
    client: httpx.AsyncClient, outbox: Outbox
) -> None:
    composed = unicodedata.normalize("NFC", "crème brûlée à la façon")
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    email = "chef@example.org"
    assert (await register(client, email, password=composed)).status_code == 202
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
