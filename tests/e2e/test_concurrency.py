"""A hundred people at once, and a hundred tries at one address."""

from __future__ import annotations

import asyncio

import httpx

from devkit.platform import Platform
from events.testing import wait_for
from tests.e2e.flows import new_email, query, register


async def test_a_hundred_distinct_registrations_all_get_their_emails(
    platform: Platform, auth: httpx.AsyncClient
) -> None:
    emails = [new_email("crowd") for _ in range(100)]
    responses = await asyncio.gather(*(register(auth, e) for e in emails))
    assert [r.status_code for r in responses] == [202] * 100
    for email in emails:  # each gets its welcome and its verification email
        await platform.smtp.wait_for_mail(
            email, lambda m: "Welcome" in str(m.message["Subject"]), timeout=120
        )
        await platform.smtp.wait_for_mail(
            email, lambda m: m.message["Subject"] == "Confirm your email address", timeout=120
        )
    assert all(len(platform.smtp.to(e)) == 2 for e in emails)


async def test_a_hundred_registrations_of_one_email_make_one_account(
    platform: Platform, auth: httpx.AsyncClient
) -> None:
    email = new_email("same")
    responses = await asyncio.gather(
        *(register(auth, email.upper() if i % 2 else email) for i in range(100))
    )
    # A hundred people (a hundred networks) at one inbox: it gets a few emails, not a hundred.
    codes = sorted(r.status_code for r in responses)
    admitted = codes.count(202)
    assert 1 <= admitted <= 3 and codes == [202] * admitted + [429] * (100 - admitted), codes
    rows = await query(platform, "auth", "SELECT id FROM users WHERE email_key = $1", email)
    assert len(rows) == 1
    await platform.smtp.wait_for_mail(email, lambda m: "Welcome" in str(m.message["Subject"]))
    await platform.smtp.wait_for_mail(
        email, lambda m: m.message["Subject"] == "Confirm your email address"
    )
    told = await query(
        platform,
        "auth",
        "SELECT event_id FROM outbox WHERE event_type = 'user.signup_attempted.v1' "
        "AND lower(envelope->'data'->>'email') = $1",
        email,
    )
    assert len(told) <= admitted - 1, "the owner hears of each other admitted attempt at most"
    attempts = "Someone tried to sign up with your address"
    await wait_for(
        lambda: (
            len([m for m in platform.smtp.to(email) if m.message["Subject"] == attempts])
            == len(told)
        ),
        timeout=60,
        message="an attempted sign-up email for each attempt auth recorded",
    )
    assert len(platform.smtp.to(email)) == 2 + len(told)
