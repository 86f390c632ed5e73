"""SendGrid's signed event webhook: real ECDSA keys, refusals, bounces into suppressions."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from events.testing import scrape_registry
from notify.bootstrap import SERVICE
from notify.config import Settings
from notify.container import Container, build
from notify.testing import settings_for
from servicekit.runner import api_app

PROBLEM = "https://portfolio.example/problems/"


class Signer:
    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())

    @property
    def public(self) -> str:
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()

    def headers(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        ts = str(timestamp or int(time.time()))
        signature = self.key.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": ts,
            "Content-Type": "application/json",
        }


@pytest.fixture
def signer() -> Signer:
    return Signer()


@pytest.fixture
async def api(database: str, signer: Signer) -> AsyncIterator[tuple[httpx.AsyncClient, Container]]:
    settings: Settings = settings_for(database, webhook_public_key=signer.public)
    container = build(settings)
    transport = httpx.ASGITransport(app=api_app(SERVICE, container))
    async with httpx.AsyncClient(transport=transport, base_url="http://notify") as client:
        yield client, container
    await container.close()


def batch(*events: dict[str, Any]) -> bytes:
    now = int(time.time())
    return json.dumps(
        [{"timestamp": now, "sg_message_id": "abc.filter0001", **e} for e in events]
    ).encode()


async def test_bounces_and_complaints_suppress_and_publish(
    api: tuple[httpx.AsyncClient, Container], signer: Signer, outbox: Any
) -> None:
    client, container = api
    body = batch(
        {
            "event": "bounce",
            "type": "bounce",
            "email": "Hard@Example.org",
            "sg_event_id": "e1",
            "reason": "550 5.1.1 user unknown",
        },
        {
            "event": "bounce",
            "type": "blocked",
            "email": "soft@example.org",
            "sg_event_id": "e2",
            "reason": "421 try later",
        },
        {"event": "spamreport", "email": "angry@example.org", "sg_event_id": "e3"},
        {
            "event": "dropped",
            "email": "old@example.org",
            "sg_event_id": "e4",
            "reason": "Bounced Address",
        },
        {"event": "delivered", "email": "fine@example.org", "sg_event_id": "e5"},
    )
    response = await client.post(
        "/webhooks/email-events", content=body, headers=signer.headers(body)
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"received": 5, "handled": 5}
    async with container.uow() as tx:
        suppressed = {
            k: await tx.suppressions.get(k)
            for k in (
                "hard@example.org",
                "soft@example.org",
                "angry@example.org",
                "old@example.org",
            )
        }
    assert {k: v.reason if v else None for k, v in suppressed.items()} == {
        "hard@example.org": "bounce",
        "soft@example.org": None,
        "angry@example.org": "spamreport",
        "old@example.org": "bounce",
    }
    events = [(e.type, e.data.recipient, e.data.kind) for e in await outbox()]
    assert events == [
        ("email.bounced.v1", "Hard@Example.org", "bounce"),
        ("email.bounced.v1", "angry@example.org", "spamreport"),
        ("email.bounced.v1", "old@example.org", "bounce"),
    ]
    again = await client.post("/webhooks/email-events", content=body, headers=signer.headers(body))
    assert again.json() == {"received": 5, "handled": 0}, "SendGrid retries are absorbed"
    assert await outbox() == []


async def test_unsigned_tampered_foreign_and_stale_requests_are_refused(
    api: tuple[httpx.AsyncClient, Container], signer: Signer, outbox: Any
) -> None:
    client, _ = api
    body = batch({"event": "bounce", "email": "x@example.org", "sg_event_id": "t1"})
    unsigned = await client.post("/webhooks/email-events", content=body)
    assert unsigned.status_code == 401
    assert unsigned.json()["type"] == PROBLEM + "signature-missing"

    headers = signer.headers(body)
    tampered = body.replace(b"x@example.org", b"y@example.org")
    refused = await client.post("/webhooks/email-events", content=tampered, headers=headers)
    assert refused.status_code == 403
    assert refused.json()["type"] == PROBLEM + "signature-invalid"

    foreign = await client.post(
        "/webhooks/email-events", content=body, headers=Signer().headers(body)
    )
    assert foreign.status_code == 403

    stale = await client.post(
        "/webhooks/email-events",
        content=body,
        headers=signer.headers(body, int(time.time()) - 3600),
    )
    assert stale.status_code == 403
    assert "too old" in stale.json()["detail"]

    garbage = {**headers, "X-Twilio-Email-Event-Webhook-Signature": "not base64!"}
    assert (
        await client.post("/webhooks/email-events", content=body, headers=garbage)
    ).status_code == 403
    assert await outbox() == []


async def test_a_signed_body_that_is_not_an_event_array_is_a_problem(
    api: tuple[httpx.AsyncClient, Container], signer: Signer
) -> None:
    client, _ = api
    for body, status in ((b"{nope", 400), (b'{"event": "bounce"}', 422)):
        response = await client.post(
            "/webhooks/email-events", content=body, headers=signer.headers(body)
        )
        assert response.status_code == status


async def test_without_a_key_the_webhook_refuses_to_guess(database: str) -> None:
    container = build(settings_for(database))
    transport = httpx.ASGITransport(app=api_app(SERVICE, container))
    async with httpx.AsyncClient(transport=transport, base_url="http://notify") as client:
        response = await client.post("/webhooks/email-events", content=b"[]")
    assert response.status_code == 503
    await container.close()


async def test_a_body_far_beyond_a_sendgrid_batch_is_refused_unread(
    api: tuple[httpx.AsyncClient, Container], signer: Signer
) -> None:
    client, _ = api
    body = b"[" + b" " * (5 * 1024 * 1024) + b"]"
    response = await client.post(
        "/webhooks/email-events", content=body, headers=signer.headers(body)
    )
    assert response.status_code == 413
    assert response.json()["type"] == PROBLEM + "body-too-large"


async def test_new_suppressions_are_counted_by_kind(
    api: tuple[httpx.AsyncClient, Container], signer: Signer
) -> None:
    client, _ = api
    body = batch(
        {"event": "bounce", "type": "bounce", "email": "a@example.org", "sg_event_id": "m1"},
        {"event": "bounce", "type": "blocked", "email": "b@example.org", "sg_event_id": "m2"},
        {"event": "spamreport", "email": "c@example.org", "sg_event_id": "m3"},
    )
    before = scrape_registry()
    for _ in range(2):  # SendGrid's retry of the same batch suppresses nothing new
        response = await client.post(
            "/webhooks/email-events", content=body, headers=signer.headers(body)
        )
        assert response.status_code == 200, response.text
    after = scrape_registry()
    bounces = {
        kind: after.total("notify_bounces_total", kind=kind)
        - before.total("notify_bounces_total", kind=kind)
        for kind in ("bounce", "spamreport")
    }
    assert bounces == {"bounce": 1, "spamreport": 1}
