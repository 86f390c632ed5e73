"""A person's own email history, behind an access token checked against auth's JWKS."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from events.contracts import UserRegisteredV1
from events.testing import delivery, example_event
from notify.bootstrap import SERVICE
from notify.container import Container
from notify.testing import SmtpServer, sender
from servicekit.runner import api_app
from servicekit.tokens import JwksVerifier

KEY = Ed25519PrivateKey.generate()


def jwks(request: httpx.Request) -> httpx.Response:
    jwk: dict[str, Any] = jwt.algorithms.OKPAlgorithm.to_jwk(KEY.public_key(), as_dict=True)
    return httpx.Response(200, json={"keys": [{**jwk, "kid": "k1", "alg": "EdDSA"}]})


def token(user_id: uuid.UUID) -> str:
    now = int(time.time())
    claims = {
        "iss": "portfolio-auth",
        "aud": "portfolio",
        "sub": str(user_id),
        "sid": "s",
        "iat": now,
        "exp": now + 600,
    }
    return jwt.encode(claims, KEY, algorithm="EdDSA", headers={"kid": "k1"})


@pytest.fixture
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    container.verifier = JwksVerifier(
        "http://auth/.well-known/jwks.json",
        issuer="portfolio-auth",
        audience="portfolio",
        client=httpx.AsyncClient(transport=httpx.MockTransport(jwks)),
    )
    transport = httpx.ASGITransport(app=api_app(SERVICE, container))
    async with httpx.AsyncClient(transport=transport, base_url="http://notify") as client:
        yield client


async def test_a_person_sees_their_own_emails_only(
    container: Container, client: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    send = sender(container, "welcome_email")
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    for user in (mine, theirs):
        d = delivery(example_event(UserRegisteredV1, user_id=user), "notify.welcome_email")
        await send(d)
    response = await client.get("/emails", headers={"Authorization": f"Bearer {token(mine)}"})
    assert response.status_code == 200
    [email] = response.json()
    assert (email["template"], email["status"]) == ("welcome", "sent")
    assert (await client.get("/emails")).status_code == 401
    forged = jwt.encode(
        {"sub": str(mine)}, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": "k1"}
    )
    refused = await client.get("/emails", headers={"Authorization": f"Bearer {forged}"})
    assert refused.status_code == 401
