"""The JWKS verifier other services use: signature, claims, caching, rotation, clear 401s."""

import time
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from servicekit.caller import CallerDep, OptionalCallerDep
from servicekit.http import create_app
from servicekit.tokens import JwksVerifier, TokenInvalid

ISSUER, AUDIENCE = "portfolio-auth", "portfolio"


class KeyServer:
    """Serves a JWKS like the auth service does, and counts the fetches."""

    def __init__(self) -> None:
        self.keys: dict[str, Ed25519PrivateKey] = {}
        self.fetches = 0

    def add(self, kid: str) -> Ed25519PrivateKey:
        self.keys[kid] = Ed25519PrivateKey.generate()
        return self.keys[kid]

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.fetches += 1
        jwks = []
        for kid, key in self.keys.items():
            jwk: dict[str, Any] = jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key(), as_dict=True)
            jwks.append({**jwk, "kid": kid, "alg": "EdDSA", "use": "sig"})
        return httpx.Response(200, json={"keys": jwks})

    def token(self, kid: str, **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(uuid.uuid4()),
            "iat": now,
            "exp": now + 900,
            "sid": "s-1",
            **claims,
        }
        return jwt.encode(payload, self.keys[kid], algorithm="EdDSA", headers={"kid": kid})


@pytest.fixture
def keys() -> KeyServer:
    return KeyServer()


@pytest.fixture
async def verifier(keys: KeyServer) -> AsyncIterator[JwksVerifier]:
    client = httpx.AsyncClient(transport=httpx.MockTransport(keys.handler))
    verifier = JwksVerifier(
        "http://auth/.well-known/jwks.json",
        issuer=ISSUER,
        audience=AUDIENCE,
        client=client,
        min_refresh_interval_s=0,
    )
    yield verifier
    await verifier.close()


async def test_a_valid_token_yields_its_claims(keys: KeyServer, verifier: JwksVerifier) -> None:
    keys.add("k1")
    user = uuid.uuid4()
    claims = await verifier.verify(keys.token("k1", sub=str(user)))
    assert (claims.user_id, claims.session_id) == (user, "s-1")


async def test_keys_are_cached_and_a_new_kid_refreshes_them(
    keys: KeyServer, verifier: JwksVerifier
) -> None:
    keys.add("k1")
    await verifier.verify(keys.token("k1"))
    await verifier.verify(keys.token("k1"))
    assert keys.fetches == 1
    keys.add("k2")  # rotation: the new key signs, the old one stays published
    await verifier.verify(keys.token("k2"))
    await verifier.verify(keys.token("k1"))
    assert keys.fetches == 2


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"exp": int(time.time()) - 60}, "expired"),
        ({"aud": "elsewhere"}, "not valid"),
        ({"iss": "someone"}, "not valid"),
        ({"sub": "not-a-uuid"}, "not valid"),
    ],
)
async def test_bad_claims_are_refused(
    keys: KeyServer, verifier: JwksVerifier, claims: dict[str, Any], reason: str
) -> None:
    keys.add("k1")
    with pytest.raises(TokenInvalid, match=reason):
        await verifier.verify(keys.token("k1", **claims))


async def test_a_forged_or_foreign_token_is_refused(
    keys: KeyServer, verifier: JwksVerifier
) -> None:
    keys.add("k1")
    forged = jwt.encode(
        {"sub": str(uuid.uuid4())},
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": "k1"},
    )
    with pytest.raises(TokenInvalid, match="not valid"):
        await verifier.verify(forged)
    stranger = jwt.encode(
        {"sub": str(uuid.uuid4())},
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": "k9"},
    )
    with pytest.raises(TokenInvalid, match="unknown key"):
        await verifier.verify(stranger)
    hs = jwt.encode({"sub": "x"}, "s" * 32, algorithm="HS256", headers={"kid": "k1"})
    with pytest.raises(TokenInvalid, match="algorithm"):
        await verifier.verify(hs)
    with pytest.raises(TokenInvalid, match="malformed"):
        await verifier.verify("not.a.jwt")


async def test_the_dependency_answers_401_problems(keys: KeyServer, verifier: JwksVerifier) -> None:
    keys.add("k1")
    app: FastAPI = create_app(title="test")
    app.state.container = SimpleNamespace(verifier=verifier)

    @app.get("/private")
    async def private(claims: CallerDep) -> dict[str, str]:
        return {"user": str(claims.user_id)}

    @app.get("/public")
    async def public(claims: OptionalCallerDep) -> dict[str, str | None]:
        return {"user": str(claims.user_id) if claims else None}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        missing = await client.get("/private")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"].startswith("Bearer")
        assert missing.json()["type"].endswith("/unauthenticated")
        expired = await client.get(
            "/private",
            headers={"Authorization": "Bearer " + keys.token("k1", exp=int(time.time()) - 60)},
        )
        assert expired.status_code == 401
        assert 'error="invalid_token"' in expired.headers["www-authenticate"]
        assert expired.json()["detail"] == "the token has expired"
        user = uuid.uuid4()
        ok = await client.get(
            "/private", headers={"Authorization": "Bearer " + keys.token("k1", sub=str(user))}
        )
        assert ok.json() == {"user": str(user)}
        assert (await client.get("/public")).json() == {"user": None}, "anonymous is allowed"
        bad = await client.get("/public", headers={"Authorization": "Bearer not.a.jwt"})
        assert bad.status_code == 401, "a token that is sent must be valid"
