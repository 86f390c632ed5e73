"""The retention pass: what has ended long enough ago goes; what may still be needed stays."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import text

from auth.bootstrap import SERVICE
from auth.container import Container
from auth.handlers import retention
from auth.testing import Outbox, active_user, login, register, user_id_of
from servicekit.clock import FrozenClock


async def count(container: Container, table: str) -> int:
    async with container.engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def prune(container: Container) -> dict[str, int]:
    return await container.bound(retention.prune_expired)()


async def test_nothing_recent_is_pruned(
    client: httpx.AsyncClient, container: Container, outbox: Outbox
) -> None:
    _, email = await active_user(client, outbox)
    await login(client, email)
    await login(client, email, "wrong password")
    assert set((await prune(container)).values()) == {0}


async def test_ended_sessions_spent_tokens_and_old_audit_rows_are_pruned(
    client: httpx.AsyncClient, container: Container, outbox: Outbox, clock: FrozenClock
) -> None:
    settings = container.settings
    _, email = await active_user(client, outbox)
    ended = (await login(client, email)).json()
    await client.post("/auth/logout", json={"refresh_token": ended["refresh_token"]})
    await register(client, "never-verified@example.org")
    await outbox.drain()

    # Links are kept for the retention period after they expire, sessions after they end.
    clock.advance(settings.verification_ttl + settings.token_retention + timedelta(minutes=1))
    alive = (await login(client, email)).json()  # a session that is still in use
    deleted = await prune(container)
    # The logged-out session (and its token) and both links (one used, one not) have gone.
    assert deleted["sessions"] == 1
    assert deleted["refresh_tokens"] == 1
    assert deleted["verification_tokens"] == 2
    assert deleted["login_attempts"] == 0, "the audit is kept longer than tokens"
    assert deleted["unverified_accounts"] == 1, "an account never verified goes in days"
    refreshed = await client.post("/auth/refresh", json={"refresh_token": alive["refresh_token"]})
    assert refreshed.status_code == 200

    clock.advance(settings.audit_retention + timedelta(minutes=1))
    deleted = await prune(container)
    assert deleted["login_attempts"] == 2
    assert await count(container, "login_attempts") == 0
    assert await count(container, "users") == 1, "a verified account is never pruned"
    assert deleted["request_events"] == 2


async def test_an_address_whose_account_was_never_verified_can_be_registered_again(
    client: httpx.AsyncClient, container: Container, outbox: Outbox, clock: FrozenClock
) -> None:
    # Someone registered a victim's address first; it expires instead of blocking them forever.
    await register(client, "squatted@example.org", password="the squatters passphrase")
    first = await user_id_of(outbox, "squatted@example.org")
    clock.advance(container.settings.unverified_account_ttl - timedelta(minutes=1))
    assert (await prune(container))["unverified_accounts"] == 0, "not before its time"
    await login(client, "squatted@example.org", "wrong password for the audit")
    clock.advance(timedelta(minutes=2))
    assert (await prune(container))["unverified_accounts"] == 1
    await register(client, "squatted@example.org")
    assert await user_id_of(outbox, "squatted@example.org") != first, "registered anew"
    token = await outbox.token_for("squatted@example.org")
    assert (await client.post("/auth/verify", json={"token": token})).status_code == 200


def test_the_worker_runs_the_retention_pass_on_its_interval(container: Container) -> None:
    (job,) = SERVICE.jobs
    assert job.run is retention.prune_expired
    assert job.every(container.settings) == container.settings.prune_interval
