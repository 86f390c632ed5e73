"""A person of the e2e workflows: signed up through auth as a real user would (register, read the
verification email, follow the link, log in), with one correlation id for all of it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx

from devkit.platform import Platform
from events.testing import EventTap
from tests.e2e.flows import PASSWORD, new_email, register, token_of, verification_link


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
