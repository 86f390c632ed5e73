"""Registration, followed event by event: register, welcome email, verification email, the
link, verified, first login, audit row; one correlation id through all of it."""

from __future__ import annotations

import uuid
from functools import partial

import httpx

from devkit.platform import Platform
from events.envelope import RawEvent
from events.testing import EventTap
from tests.e2e.flows import (
    PASSWORD,
    new_email,
    query,
    register,
    registered_user,
    token_of,
    verification_link,
)


async def test_registration_to_first_login(
    platform: Platform, tap: EventTap, auth: httpx.AsyncClient
) -> None:
    smtp = platform.smtp
    correlation = f"signup-{uuid.uuid4().hex[:8]}"
    email = new_email()
    headers = {"X-Correlation-ID": correlation}

    created = await register(auth, email, correlation)
    assert created.status_code == 202, created.text
    user_id = await registered_user(tap, email)
    [user] = await query(
        platform, "auth", "SELECT status FROM users WHERE id = $1", uuid.UUID(user_id)
    )
    assert user["status"] == "pending"

    registered = await tap.wait_for("user.registered.v1", lambda e: e.subject == user_id)
    assert registered.data["email"] == email
    welcome = await smtp.wait_for_mail(email, lambda m: "Welcome" in str(m.message["Subject"]))
    assert "Welcome, Ada Lovelace!" in welcome.part("plain")
    requested = await tap.wait_for("user.verification_requested.v1", lambda e: e.subject == user_id)
    verification = await smtp.wait_for_mail(
        email, lambda m: m.message["Subject"] == "Confirm your email address"
    )
    link = verification_link(verification.part("plain"))
    assert token_of(link) == requested.data["token"]
    # notify publishes email.sent.v1 through its outbox after the SMTP hand-off, so the mail can
    # be read before its event is on the bus. The workflow's steps are ordered by the person
    # acting on recorded sends: wait for both records before following the link.
    for cause in (str(registered.id), str(requested.id)):
        await tap.wait_for("email.sent.v1", partial(sent_for, cause))

    verified = await auth.post("/auth/verify", json={"token": token_of(link)}, headers=headers)
    assert verified.status_code == 200, verified.text
    await tap.wait_for("user.verified.v1", lambda e: e.subject == user_id)
    [user] = await query(
        platform, "auth", "SELECT status FROM users WHERE id = $1", uuid.UUID(user_id)
    )
    assert user["status"] == "active"

    logged_in = await auth.post(
        "/auth/login", json={"email": email, "password": PASSWORD}, headers=headers
    )
    assert logged_in.status_code == 200, logged_in.text
    first = await tap.wait_for("user.logged_in.v1", lambda e: e.subject == user_id)
    assert first.data["first_login"] is True
    [audit] = await query(
        platform,
        "auth",
        "SELECT outcome, first_login FROM login_attempts WHERE user_id = $1",
        uuid.UUID(user_id),
    )
    assert (audit["outcome"], audit["first_login"]) == ("success", True)
    await smtp.wait_for_mail(email, lambda m: "three steps" in str(m.message["Subject"]))

    # The whole workflow, in the order the exchange saw it. Within a step, events published by
    # different services may interleave (a tuple); the steps themselves are ordered.
    sequence = await tap.expect_sequence(
        correlation,
        [
            "user.registered.v1",
            "user.verification_requested.v1",
            ("email.sent.v1", "email.sent.v1"),  # welcome and verification, from two queues
            "user.verified.v1",
            "user.logged_in.v1",
            "email.sent.v1",  # onboarding
        ],
    )
    print(f"\nworkflow {correlation}:\n  " + "\n  ".join(sequence))
    assert {e.correlationid for e in tap.events() if e.subject == user_id} == {correlation}


def sent_for(cause_id: str, event: RawEvent) -> bool:
    return bool(event.data["cause_event_id"] == cause_id)
