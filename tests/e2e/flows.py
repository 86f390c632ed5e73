"""Steps the workflows share: a person registering, reading their mail, following the link."""

from __future__ import annotations

import asyncio
import random
import re
import uuid
from typing import Any

import asyncpg
import httpx

from devkit.platform import Platform
from events.testing import EventTap

PASSWORD = "correct horse battery staple"
LINK = re.compile(r"http://app\.portfolio\.test/verify\?token=[A-Za-z0-9_%\-]+")


def new_email(prefix: str = "ada") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.org"


def person_address() -> str:
    """A client address of a person of its own (the benchmarking range, RFC 2544): auth limits
    registrations per client network, and the suite plays many people."""
    n = random.randrange(1, 2**17 - 1)
    return f"198.{18 + (n >> 16)}.{(n >> 8) & 255}.{n & 255}"


OVERLOAD_RESENDS = 10
"""How often `register` sends a request answered 503 overloaded again, each after its wait."""


async def register(
    auth: httpx.AsyncClient,
    email: str,
    correlation_id: str | None = None,
    password: str = PASSWORD,
    client_address: str | None = None,
) -> httpx.Response:
    """Register as a person would, from their own address (the platform's auth trusts
    X-Forwarded-For from loopback, as from the proxy in front of it).

    A burst beyond auth's hashing capacity is answered 503 overloaded with Retry-After, having
    recorded nothing (services/auth/tests/test_hashing.py tests that contract); like any client,
    this one waits as told and sends the same request again. Any other answer is returned."""
    headers = {"X-Forwarded-For": client_address or person_address()}
    if correlation_id:
        headers["X-Correlation-ID"] = correlation_id
    body = {"email": email, "password": password, "display_name": "Ada Lovelace"}
    for _ in range(OVERLOAD_RESENDS):
        response = await auth.post("/auth/register", json=body, headers=headers)
        if response.status_code != 503 or "Retry-After" not in response.headers:
            return response
        await asyncio.sleep(float(response.headers["Retry-After"]))
    return response


async def registered_user(tap: EventTap, email: str, timeout: float = 30) -> str:
    """The id auth gave `email`'s account (registration answers the same for every address)."""
    event = await tap.wait_for(
        "user.registered.v1", lambda e: e.data["email"] == email, timeout=timeout
    )
    return str(event.subject)


def verification_link(text: str) -> str:
    match = LINK.search(text)
    assert match, f"no verification link in:\n{text}"
    return match.group(0)


def token_of(link: str) -> str:
    from urllib.parse import parse_qs, urlsplit

    return parse_qs(urlsplit(link).query)["token"][0]


async def query(platform: Platform, service: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    """Read a service's own database, to check a step left the state it should."""
    assert platform.run is not None
    conn = await asyncpg.connect(platform.run.databases[service])
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()
