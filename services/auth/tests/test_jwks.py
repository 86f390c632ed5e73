"""Access tokens verified by another service's verifier, through the JWKS alone; key rotation."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import httpx
import pytest

from auth import bootstrap, keys
from auth.bootstrap import Container
from auth.config import Settings, SigningKeyConfig
from auth.testing import Outbox, active_user, login
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
    rotated = bootstrap.build(rotated_settings, clock=container.clock)
    transport = httpx.ASGITransport(app=bootstrap.api_app(rotated))
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
        Settings(environment="prod", database_url=database)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unique"):
        keys.KeyRing([keys.generate("a"), keys.generate("a")], issuer="i", audience="a")
