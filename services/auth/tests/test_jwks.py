"""Access tokens verified by another service's verifier, through the JWKS alone; key rotation."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from typing import Any

import httpx
import pytest

from auth import keys
from auth.bootstrap import SERVICE
from auth.config import Settings, SigningKeyConfig
from auth.container import Container, build
from auth.testing import Outbox, active_user, login
from servicekit.runner import api_app
from servicekit.tokens import JwksVerifier, TokenInvalid


def verifier_for(client: httpx.AsyncClient) -> JwksVerifier:
    # The verifier other services import from libs/servicekit, fetching auth's JWKS over HTTP.
    return JwksVerifier(
        "http://auth/.well-known/jwks.json",
        issuer="portfolio-auth",
        audience="portfolio",
        client=client,
        min_refresh_interval_s=0,
    )


async def test_a_separate_verifier_accepts_auths_tokens_via_the_jwks(
    client: httpx.AsyncClient, outbox: Outbox
) -> None:
    user_id, email = await active_user(client, outbox)
    pair = (await login(client, email)).json()
    jwks = await client.get("/.well-known/jwks.json")
    assert jwks.headers["cache-control"].startswith("public")
    [key] = jwks.json()["keys"]
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")
    assert "d" not in key, "the private part must never be published"
    claims = await verifier_for(client).verify(pair["access_token"])
    assert str(claims.user_id) == user_id
    assert claims.session_id


async def test_rotation_keeps_old_tokens_valid_while_the_new_key_signs(
    settings: Settings, container: Container, client: httpx.AsyncClient, outbox: Outbox
) -> None:
    _, email = await active_user(client, outbox)
    old_token = (await login(client, email)).json()["access_token"]

    fresh = keys.to_config(keys.generate("k-new"))
    rotated_settings = settings.model_copy(
        update={"signing_keys": [SigningKeyConfig.model_validate(fresh), *settings.signing_keys]}
    )
    rotated = build(rotated_settings, clock=container.clock)
    transport = httpx.ASGITransport(app=api_app(SERVICE, rotated))
    async with httpx.AsyncClient(transport=transport, base_url="http://auth") as after:
        new_token = (await login(after, email)).json()["access_token"]
        verifier = verifier_for(after)
        assert {k["kid"] for k in (await after.get("/.well-known/jwks.json")).json()["keys"]} == {
            "k-new",
            settings.signing_keys[0].kid,
        }
        await verifier.verify(new_token)
        await verifier.verify(old_token)
    await rotated.close()

    # A verifier that only knows the old set refuses a token from a key it cannot fetch.
    stranger = keys.KeyRing(
        [keys.generate("k-stranger")], issuer="portfolio-auth", audience="portfolio"
    )
    forged = stranger.issue(
        user_id=uuid.uuid4(),
        session_id=uuid.uuid4(),
        now=container.clock.now(),
        ttl=settings.access_token_ttl,
    )
    with pytest.raises(TokenInvalid, match="unknown key"):
        await verifier_for(client).verify(forged)


def test_keygen_prints_a_key_entry_the_settings_accept() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "auth", "keygen"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    entry = SigningKeyConfig.model_validate(json.loads(done.stdout))
    assert entry.private_key_pem.get_secret_value().startswith("-----BEGIN PRIVATE KEY-----")
    assert keys.load(entry).kid == entry.kid


def test_outside_dev_the_service_refuses_to_start_without_keys(database: str) -> None:
    with pytest.raises(ValueError, match="AUTH_SIGNING_KEYS"):
        Settings(environment="prod", database_url=database)
    with pytest.raises(ValueError, match="unique"):
        keys.KeyRing([keys.generate("a"), keys.generate("a")], issuer="i", audience="a")


class Switchable(httpx.AsyncBaseTransport):
    """auth's app behind a switch, counting the requests that reach for it."""

    def __init__(self, app: Any) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self.up = True
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if not self.up:
            raise httpx.ConnectError("auth is down", request=request)
        return await self._inner.handle_async_request(request)


async def test_while_the_jwks_is_down_cached_keys_verify_and_retries_are_spaced(
    container: Container, client: httpx.AsyncClient, outbox: Outbox
) -> None:
    _, email = await active_user(client, outbox)
    token = (await login(client, email)).json()["access_token"]
    auth = Switchable(api_app(SERVICE, container))
    now = [0.0]
    verifier = JwksVerifier(
        "http://auth/.well-known/jwks.json",
        issuer="portfolio-auth",
        audience="portfolio",
        client=httpx.AsyncClient(transport=auth),
        cache_ttl_s=300,
        min_refresh_interval_s=5,
        clock=lambda: now[0],
    )
    await verifier.verify(token)
    assert auth.requests == 1

    auth.up = False
    now[0] = 400.0  # the cache is stale: one request tries to refresh, and fails
    await asyncio.gather(*(verifier.verify(token) for _ in range(10)))
    assert auth.requests == 2, "one attempt for ten requests"
    now[0] = 402.0
    await verifier.verify(token)
    assert auth.requests == 2, "no second attempt within the refresh interval"
    now[0] = 406.0
    await verifier.verify(token)
    assert auth.requests == 3

    auth.up = True
    now[0] = 412.0
    await verifier.verify(token)
    assert auth.requests == 4
    now[0] = 500.0
    await verifier.verify(token)
    assert auth.requests == 4, "fresh again: served from the cache"
    await verifier.close()


async def test_a_verifier_that_never_reached_the_jwks_says_so(container: Container) -> None:
    auth = Switchable(api_app(SERVICE, container))
    auth.up = False
    verifier = JwksVerifier(
        "http://auth/.well-known/jwks.json",
        issuer="portfolio-auth",
        audience="portfolio",
        client=httpx.AsyncClient(transport=auth),
    )
    token = container.keys.issue(
        user_id=uuid.uuid4(),
        session_id=uuid.uuid4(),
        now=container.clock.now(),
        ttl=container.settings.access_token_ttl,
    )
    for _ in range(3):
        with pytest.raises(TokenInvalid, match="unavailable"):
            await verifier.verify(token)
    assert auth.requests == 1, "retries are spaced even before the first success"
    await verifier.close()


async def test_me_answers_a_clear_401_for_a_token_of_another_issuer_or_audience(
    container: Container, client: httpx.AsyncClient, outbox: Outbox
) -> None:
    user_id, email = await active_user(client, outbox)
    pair = (await login(client, email)).json()
    claims = container.keys.decode(pair["access_token"], now=container.clock.now())
    for name, value in (("iss", "someone-else"), ("aud", "another-platform")):
        foreign = keys.KeyRing(
            [container.keys.active],
            issuer=value if name == "iss" else container.keys.issuer,
            audience=value if name == "aud" else container.keys.audience,
        ).issue(
            user_id=uuid.UUID(user_id),
            session_id=uuid.UUID(claims["sid"]),
            now=container.clock.now(),
            ttl=container.settings.access_token_ttl,
        )
        refused = await client.get("/auth/me", headers={"Authorization": f"Bearer {foreign}"})
        assert refused.status_code == 401, name
        assert refused.json()["type"].endswith("invalid-token")
