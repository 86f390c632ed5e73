"""A person of the e2e workflows: signed up through auth as a real user would (register, read the
verification email, follow the link, log in), with one correlation id for all of it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from devkit.platform import Platform
from events.testing import EventTap, wait_for
from tests.e2e.flows import (
    PASSWORD,
    new_email,
    query,
    register,
    token_of,
    verification_link,
)


@dataclass(frozen=True)
class Person:
    user_id: uuid.UUID
    email: str
    token: str
    correlation_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "X-Correlation-ID": self.correlation_id}


async def sign_up(
    platform: Platform,
    tap: EventTap,
    auth: httpx.AsyncClient,
    *,
    correlation_id: str | None = None,
    prefix: str = "ada",
) -> Person:
    correlation = correlation_id or f"{prefix}-{uuid.uuid4().hex[:8]}"
    email = new_email(prefix)
    answer = await register(auth, email, correlation)
    assert answer.status_code in (201, 202), answer.text
    registered = await tap.wait_for(
        "user.registered.v1", lambda e: e.data["email"] == email, timeout=30
    )
    mail = await platform.smtp.wait_for_mail(
        email, lambda m: m.message["Subject"] == "Confirm your email address", timeout=30
    )
    headers = {"X-Correlation-ID": correlation}
    token = token_of(verification_link(mail.part("plain")))
    verified = await auth.post("/auth/verify", json={"token": token}, headers=headers)
    assert verified.status_code == 200, verified.text
    logged_in = await auth.post(
        "/auth/login", json={"email": email, "password": PASSWORD}, headers=headers
    )
    assert logged_in.status_code == 200, logged_in.text
    return Person(
        uuid.UUID(str(registered.subject)),
        email,
        logged_in.json()["access_token"],
        correlation,
    )


@dataclass(frozen=True)
class Studio:
    """A person's portfolio with items, known to media (uploads allowed) and portfolio."""

    owner: Person
    portfolio: dict[str, Any]
    items: list[dict[str, Any]]


async def projected(platform: Platform, service: str, sql: str, *args: Any) -> None:
    """Wait until a service's projection has what a step needs (events are asynchronous)."""

    async def there() -> bool:
        return bool(await query(platform, service, sql, *args))

    await wait_for(there, timeout=30, interval=0.1, message=f"{service}: {sql} {args}")


async def studio(
    platform: Platform,
    tap: EventTap,
    auth: httpx.AsyncClient,
    portfolio: httpx.AsyncClient,
    *,
    visibility: str = "public",
    titles: tuple[str, ...] = ("Lighthouse at dusk",),
    owner: Person | None = None,
    slug: str | None = None,
) -> Studio:
    person = owner or await sign_up(platform, tap, auth)
    await projected(
        platform,
        "portfolio",
        "SELECT 1 FROM owners WHERE user_id = $1 AND verified",
        person.user_id,
    )
    created = await portfolio.post(
        "/portfolios",
        json={
            "title": "Harbour studies",
            "slug": slug or f"harbour-{uuid.uuid4().hex[:6]}",
            "visibility": visibility,
        },
        headers=person.headers,
    )
    assert created.status_code == 201, created.text
    page = created.json()
    added = await portfolio.post(
        f"/portfolios/{page['id']}/items",
        json={"items": [{"title": t} for t in titles]},
        headers=person.headers,
    )
    assert added.status_code == 201, added.text
    for item in added.json()["items"]:
        await projected(
            platform, "media", "SELECT 1 FROM item_access WHERE item_id = $1", uuid.UUID(item["id"])
        )
    return Studio(person, added.json(), added.json()["items"])
