"""Authentication across services: refusals, throttling, the JWKS, rotation, logout."""

from __future__ import annotations

import httpx

from devkit.platform import Platform
from events.testing import EventTap
from servicekit.tokens import JwksVerifier
from tests.e2e.flows import PASSWORD, new_email, register, token_of, verification_link

PROBLEM = "https://portfolio.example/problems/"


async def active_account(platform: Platform, auth: httpx.AsyncClient) -> str:
    email = new_email("auth")
    assert (await register(auth, email)).status_code == 202
    mail = await platform.smtp.wait_for_mail(
        email, lambda m: m.message["Subject"] == "Confirm your email address"
    )
    token = token_of(verification_link(mail.part("plain")))
    assert (await auth.post("/auth/verify", json={"token": token})).status_code == 200
    return email


async def login(auth: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await auth.post("/auth/login", json={"email": email, "password": password})


async def test_login_before_verification_is_refused(
    platform: Platform, auth: httpx.AsyncClient
) -> None:
    email = new_email("early")
    assert (await register(auth, email)).status_code == 202
    refused = await login(auth, email)
    assert refused.status_code == 403
    assert refused.json()["type"] == PROBLEM + "email-not-verified"


async def test_wrong_passwords_are_throttled(platform: Platform, auth: httpx.AsyncClient) -> None:
    email = await active_account(platform, auth)
    codes = [(await login(auth, email, "not my password")).status_code for _ in range(5)]
    assert codes == [401] * 5
    throttled = await login(auth, email)
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0
    assert throttled.json()["type"] == PROBLEM + "too-many-attempts"


async def test_an_access_token_is_accepted_by_another_service_via_the_jwks(
    platform: Platform, auth: httpx.AsyncClient, notify: httpx.AsyncClient, tap: EventTap
) -> None:
    email = await active_account(platform, auth)
    access = (await login(auth, email)).json()["access_token"]
    # notify checks the token with the JWKS it fetched from auth, without calling auth per request.
    emails = await notify.get("/emails", headers={"Authorization": f"Bearer {access}"})
    assert emails.status_code == 200, emails.text
    assert {"welcome", "verification"} <= {e["template"] for e in emails.json()}
    assert (
        await notify.get("/emails", headers={"Authorization": "Bearer forged"})
    ).status_code == 401
    verifier = JwksVerifier(
        f"{platform.url('auth')}/.well-known/jwks.json",
        issuer="portfolio-auth",
        audience="portfolio",
    )
    claims = await verifier.verify(access)
    await verifier.close()
    me = await auth.get("/auth/me", headers={"Authorization": f"Bearer {access}"})
    assert str(claims.user_id) == me.json()["id"]


async def test_refresh_rotates_and_reuse_revokes_the_family(
    platform: Platform, auth: httpx.AsyncClient
) -> None:
    email = await active_account(platform, auth)
    first = (await login(auth, email)).json()
    second = await auth.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    reused = await auth.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401
    assert reused.json()["type"] == PROBLEM + "refresh-token-reused"
    newest = await auth.post(
        "/auth/refresh", json={"refresh_token": second.json()["refresh_token"]}
    )
    assert newest.status_code == 401


async def test_logout_revokes_the_session(platform: Platform, auth: httpx.AsyncClient) -> None:
    email = await active_account(platform, auth)
    pair = (await login(auth, email)).json()
    bearer = {"Authorization": f"Bearer {pair['access_token']}"}
    assert (await auth.get("/auth/me", headers=bearer)).status_code == 200
    assert (await auth.post("/auth/logout", headers=bearer)).status_code == 204
    assert (await auth.get("/auth/me", headers=bearer)).status_code == 401
    refresh = await auth.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refresh.status_code == 401
