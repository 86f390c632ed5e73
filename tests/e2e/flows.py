"""Steps the workflows share: a person registering, reading their mail, following the link."""

from __future__ import annotations

import re
import uuid
from typing import Any

import asyncpg
import httpx

from devkit.platform import Platform

PASSWORD = "correct horse battery staple"
LINK = re.compile(r"http://app\.portfolio\.test/verify\?token=[A-Za-z0-9_%\-]+")


def new_email(prefix: str = "ada") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.org"


async def register(
    auth: httpx.AsyncClient,
    email: str,
    correlation_id: str | None = None,
    password: str = PASSWORD,
) -> httpx.Response:
    headers = {"X-Correlation-ID": correlation_id} if correlation_id else {}
    return await auth.post(
        "/auth/register",
        json={"email": email, "password": password, "display_name": "Ada Lovelace"},
        headers=headers,
    )


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
