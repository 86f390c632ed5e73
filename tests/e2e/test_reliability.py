"""Mail survives a crashed or disconnected worker without delay: a burst of registrations while
the notify worker is SIGKILLed, then while the broker closes every connection; every address
gets both its emails within a minute of the burst's end, and a crash sends at most the emails
whose sends were in flight twice (NOTIFY_MAX_CONCURRENT_SENDS)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable

import httpx

from devkit.platform import Platform
from events.testing import wait_for
from notify.config import Settings as NotifySettings
from tests.e2e.flows import new_email, query, register

BURST = 300
AT_ONCE = 16  # registrations in flight: each is an argon2 hash in the auth api
GOAL_S = 60.0
WELCOME, VERIFY = "Welcome to Portfolio, Ada Lovelace", "Confirm your email address"
IN_FLIGHT_BOUND = NotifySettings.model_fields["max_concurrent_sends"].get_default()


def mail_of(platform: Platform, emails: set[str]) -> list[tuple[str, str, float]]:
    return [
        (rcpt, str(m.message["Subject"]), m.at)
        for m in platform.smtp.messages
        for rcpt in m.recipients
        if rcpt in emails
    ]


def complete(platform: Platform, emails: set[str]) -> bool:
    got = {(rcpt, subject) for rcpt, subject, _ in mail_of(platform, emails)}
    return all((e, WELCOME) in got and (e, VERIFY) in got for e in emails)


async def burst(auth: httpx.AsyncClient, emails: list[str]) -> float:
    """Register everyone, AT_ONCE at a time; returns when the last registration was answered."""
    slots = asyncio.Semaphore(AT_ONCE)

    async def one(email: str) -> None:
        async with slots:
            response = await register(auth, email)
            assert response.status_code == 202, response.text

    await asyncio.gather(*(one(e) for e in emails))
    return time.monotonic()


async def survive(
    platform: Platform, auth: httpx.AsyncClient, fault: Callable[[], Awaitable[str]]
) -> dict[str, float]:
    emails = [new_email("burst") for _ in range(BURST)]
    wanted = set(emails)
    started = time.monotonic()
    registering = asyncio.create_task(burst(auth, emails))
    # Strike while the worker is busy: some of the burst's mail has gone out, most has not.
    await wait_for(lambda: len(mail_of(platform, wanted)) >= 40, timeout=180, interval=0.05)
    what = await fault()
    burst_end = await registering
    await wait_for(
        lambda: complete(platform, wanted),
        timeout=GOAL_S + 60,
        message=lambda: (
            f"{sum(1 for e in emails if not complete(platform, {e}))} addresses "
            f"still miss an email after {time.monotonic() - burst_end:.0f}s"
        ),
    )
    arrivals = mail_of(platform, wanted)
    firsts: dict[tuple[str, str], float] = {}
    for rcpt, subject, at in sorted(arrivals, key=lambda a: a[2]):
        firsts.setdefault((rcpt, subject), at)
    last = max(firsts.values())
    copies = Counter((rcpt, subject) for rcpt, subject, _ in arrivals)
    measured = {
        "burst_s": round(burst_end - started, 1),
        "last_email_after_burst_s": round(last - burst_end, 1),
        "duplicates": sum(n - 1 for n in copies.values()),
    }
    print(f"\n{what}: {measured}")
    return measured


async def test_a_sigkilled_worker_delays_no_email_past_a_minute(
    platform: Platform, auth: httpx.AsyncClient
) -> None:
    worker = platform.worker("notify")

    async def kill() -> str:
        await worker.kill()
        leased = await query(
            platform,
            "notify",
            "SELECT count(*) AS n FROM emails WHERE status = 'sending' AND lease_until > now()",
        )
        await worker.start()  # the orchestrator restarts it
        await worker.wait_ready()
        return f"SIGKILL with {leased[0]['n']} leases held"

    measured = await survive(platform, auth, kill)
    assert measured["last_email_after_burst_s"] <= GOAL_S
    assert measured["duplicates"] <= IN_FLIGHT_BOUND


async def test_a_broker_connection_cut_delays_no_email_past_a_minute(
    platform: Platform, auth: httpx.AsyncClient
) -> None:
    async def cut() -> str:
        await platform.cut_broker_connections()
        return "rabbitmqctl close_all_connections"

    measured = await survive(platform, auth, cut)
    assert measured["last_email_after_burst_s"] <= GOAL_S
    assert measured["duplicates"] <= IN_FLIGHT_BOUND
