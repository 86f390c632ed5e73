"""Email failures end to end: retries on the backoff schedule, the DLQ with its alert, and the
operator's replay."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import httpx
from pydantic import SecretStr

from devkit.platform import Platform
from events import failures
from events.connection import connect
from events.dlq import DeadLetterQueues
from events.retry import EMAIL
from events.settings import BusSettings
from events.testing import EventTap, wait_for
from tests.e2e.flows import new_email, register, registered_user


def retries(platform: Platform, event_id: str, queue: str) -> list[dict[str, Any]]:
    return [
        r
        for r in platform.worker("notify").log_records()
        if r.get("event") == "retry scheduled"
        and r.get("event_id") == event_id
        and r.get("queue") == queue
    ]


async def test_a_busy_server_is_retried_on_the_backoff_schedule_until_it_accepts(
    platform: Platform, auth: httpx.AsyncClient, tap: EventTap
) -> None:
    email = new_email("busy")
    platform.smtp.busy_for(email, 2.0)
    assert (await register(auth, email)).status_code == 202
    user_id = await registered_user(tap, email)
    registered = await tap.wait_for("user.registered.v1", lambda e: e.subject == user_id)
    mail = await platform.smtp.wait_for_mail(
        email, lambda m: "Welcome" in str(m.message["Subject"]), timeout=30
    )
    assert mail is not None
    scheduled = retries(platform, str(registered.id), "notify.welcome_email")
    print(
        "\nretries of the welcome email:\n  "
        + "\n  ".join(
            f"attempt {r['next_attempt']} after {r['delay_ms']} ms (level {r['retry_level']})"
            for r in scheduled
        )
    )
    attempts = [r["next_attempt"] for r in scheduled]
    assert attempts == list(range(2, len(attempts) + 2)), "x-attempt grows by one each time"
    assert len(attempts) >= 3, "the server was busy for several levels"
    policy = EMAIL.scaled(platform.retry_time_scale)
    for record in scheduled:
        level_delay = policy.delays[record["retry_level"] - 1].total_seconds() * 1000
        assert level_delay * (1 - policy.jitter) - 1 <= record["delay_ms"] <= level_delay + 1
        assert record["retry_level"] == record["next_attempt"] - 1
    codes = [code for _, address, code in platform.smtp.answers if address == email]
    assert codes[-1] == "250" and "451" in codes
    assert len([m for m in platform.smtp.to(email) if "Welcome" in str(m.message["Subject"])]) == 1


async def test_a_server_down_past_the_last_retry_parks_alerts_and_replays_once(
    platform: Platform, auth: httpx.AsyncClient, tap: EventTap
) -> None:
    assert platform.run is not None
    email = new_email("down")
    await platform.smtp.stop()
    try:
        assert (await register(auth, email)).status_code == 202
        user_id = await registered_user(tap, email)
        registered = await tap.wait_for("user.registered.v1", lambda e: e.subject == user_id)
        failed = await tap.wait_for(
            "email.failed.v1",
            lambda e: e.data["recipient"] == email and e.data["template"] == "welcome",
            timeout=60,
        )
        assert failed.data["reason"] == "retries_exhausted"
        assert failed.causationid == str(registered.id)
    finally:
        await platform.smtp.start()

    settings = BusSettings(amqp_url=SecretStr(platform.run.amqp_url))
    connection = await connect(settings, "e2e-operator")
    try:
        ops = DeadLetterQueues(connection)
        parked: list[Any] = []

        async def is_parked() -> bool:
            # email.failed.v1 is published by the dead-letter hook just before the message is
            # parked, so the tap can see it first: wait for the DLQ itself.
            parked[:] = [
                m
                for m in await ops.browse("notify.welcome_email")
                if m.message_id == str(registered.id)
            ]
            return len(parked) == 1

        await wait_for(is_parked, timeout=15, message="the welcome email reached its DLQ")
        headers = parked[0].headers
        assert headers[failures.REASON] == "retries_exhausted"
        assert headers[failures.ATTEMPTS] == EMAIL.attempts
        assert headers[failures.ORIGINAL_QUEUE] == "notify.welcome_email"
        assert headers[failures.ORIGINAL_ROUTING_KEY] == "user.registered.v1"
        assert "TransientSendError" in headers[failures.ERROR_TYPE]
        assert headers[failures.ERROR_STACK]
        assert headers[failures.FIRST_FAILED_AT] < headers[failures.FAILED_AT]

        sentry = platform.sentry
        await wait_for(
            lambda: any(
                e.get("tags", {}).get("queue") == "notify.welcome_email" for e in sentry.events()
            ),
            timeout=15,
            message="a Sentry event for the parked welcome email",
        )

        # The operator replays once the server is back.
        replay = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "events",
            "--url",
            platform.run.amqp_url,
            "dlq",
            "replay",
            "notify.welcome_email",
            "--message-id",
            str(registered.id),
            "--note",
            "e2e: back up",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(replay.communicate(), 60)
        assert replay.returncode == 0, err.decode()
        assert "replayed 1 message(s)" in out.decode()
        await platform.smtp.wait_for_mail(
            email, lambda m: "Welcome" in str(m.message["Subject"]), timeout=30
        )
        await tap.wait_for(
            "email.sent.v1",
            lambda e: e.data["recipient"] == email and e.data["template"] == "welcome",
        )
        welcome = [m for m in platform.smtp.to(email) if "Welcome" in str(m.message["Subject"])]
        assert len(welcome) == 1
        assert [
            m.message_id
            for m in await ops.browse("notify.welcome_email")
            if m.message_id == str(registered.id)
        ] == []
    finally:
        await connection.close()
