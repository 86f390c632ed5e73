"""Password hashing: OWASP's floor enforced by settings, and a burst beyond capacity refused at
once with 503 and Retry-After, leaving nothing recorded, instead of queueing until timeouts."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from auth.bootstrap import SERVICE
from auth.config import Settings
from auth.container import Container, build
from auth.errors import Overloaded
from auth.hashing import Argon2Cost, PasswordHasher, meets_floor
from auth.testing import PASSWORD, Outbox, register, settings_for
from events.testing import wait_for
from servicekit.clock import FrozenClock
from servicekit.testing import api_client


def test_the_defaults_are_owasps_argon2id_setting() -> None:
    defaults = Settings.model_fields
    cost = Argon2Cost(
        time_cost=defaults["argon2_time_cost"].default,
        memory_cost_kib=defaults["argon2_memory_cost_kib"].default,
        parallelism=defaults["argon2_parallelism"].default,
    )
    assert (cost.memory_cost_kib, cost.time_cost, cost.parallelism) == (19456, 2, 1)


async def test_a_hash_records_its_setting_and_a_stored_cheaper_hash_needs_a_rehash() -> None:
    hasher = PasswordHasher(workers=1, budget_s=60)
    cheap = PasswordHasher(Argon2Cost(time_cost=1, memory_cost_kib=8192), workers=1, budget_s=60)
    try:
        stored = await hasher.hash(PASSWORD)
        assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        assert await hasher.verify(stored, PASSWORD)
        assert not await hasher.verify(stored, PASSWORD + "!")
        assert not hasher.needs_rehash(stored)
        assert hasher.needs_rehash(await cheap.hash(PASSWORD))
    finally:
        await hasher.aclose()
        await cheap.aclose()


@pytest.mark.parametrize(
    ("memory_kib", "iterations", "allowed"),
    [
        (19456, 2, True),  # the default
        (47104, 1, True),  # an equal-strength alternative
        (65536, 3, True),  # stronger
        (19456, 1, False),
        (8192, 4, False),
    ],
)
def test_settings_refuse_a_cost_below_owasps_outside_tests(
    database: str, memory_kib: int, iterations: int, allowed: bool
) -> None:
    assert meets_floor(memory_kib, iterations) is allowed
    overrides: dict[str, Any] = {
        "argon2_memory_cost_kib": memory_kib,
        "argon2_time_cost": iterations,
    }
    production_like = settings_for(database).model_dump() | overrides | {"environment": "prod"}
    if allowed:
        assert Settings.model_validate(production_like).argon2_time_cost == iterations
    else:
        with pytest.raises(ValidationError, match="below OWASP's minimum"):
            Settings.model_validate(production_like)
    # tests may hash cheaply: bursts there test the workflows, not argon2
    assert settings_for(database, **overrides).argon2_time_cost == iterations


class GatedArgon2:
    """argon2 whose hashes wait for a gate, so a test holds the only worker busy."""

    def __init__(self, real: Any) -> None:
        self.real, self.gate, self.entered = real, threading.Event(), threading.Event()

    def hash(self, password: str) -> str:
        self.entered.set()
        self.gate.wait(timeout=30)
        return str(self.real.hash(password))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@pytest.fixture
async def one_worker(database: str) -> AsyncIterator[tuple[Container, GatedArgon2]]:
    settings = settings_for(database, hash_workers=1, hash_queue_budget=timedelta(0))
    container = build(settings, clock=FrozenClock())
    gated = GatedArgon2(container.hasher._argon2)
    container.hasher._argon2 = gated  # type: ignore[assignment]
    try:
        yield container, gated
    finally:
        gated.gate.set()
        await container.close()


async def test_a_registration_beyond_capacity_is_refused_at_once_and_leaves_nothing(
    one_worker: tuple[Container, GatedArgon2],
) -> None:
    container, gated = one_worker
    outbox = Outbox(container)
    async with api_client(SERVICE, container) as client:
        first = asyncio.create_task(register(client, "first@example.org"))
        await wait_for(gated.entered.is_set, timeout=10, message="the first hash running")
        assert container.hasher.in_flight == 1

        refused = await register(client, "second@example.org")
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        problem = refused.json()
        assert problem["type"].endswith("/overloaded")
        assert int(refused.headers["Retry-After"]) >= 1
        assert problem["retry_after"] == int(refused.headers["Retry-After"])
        async with container.engine.connect() as conn:
            admitted = await conn.scalar(text("SELECT count(*) FROM request_events"))
        assert admitted == 1, "a refused request must not count against anyone's limits"

        gated.gate.set()
        assert (await first).status_code == 202
        again = await register(client, "second@example.org")
        assert again.status_code == 202, again.text
    emails = {e.data.email for e in await outbox.drain() if e.type == "user.registered.v1"}
    assert emails == {"first@example.org", "second@example.org"}


async def test_a_login_beyond_capacity_is_refused_and_is_not_a_failed_attempt(
    one_worker: tuple[Container, GatedArgon2],
) -> None:
    container, gated = one_worker
    async with api_client(SERVICE, container) as busy:
        blocker = asyncio.create_task(register(busy, "blocker@example.org"))
        await wait_for(gated.entered.is_set, timeout=10, message="the blocker's hash running")
        refused = await busy.post(
            "/auth/login", json={"email": "nobody@example.org", "password": PASSWORD}
        )
        assert refused.status_code == 503, refused.text
        async with container.engine.connect() as conn:
            attempts = await conn.scalar(text("SELECT count(*) FROM login_attempts"))
        assert attempts == 0
        gated.gate.set()
        assert (await blocker).status_code == 202


async def test_an_admitted_request_holds_its_place_before_it_reaches_the_pool() -> None:
    """A burst arrives at once and spends its first milliseconds in database round trips: each
    request admitted must count from its admission, or the whole burst would be admitted."""
    hasher = PasswordHasher(workers=1, budget_s=0.0)
    try:
        with hasher.admitted():
            assert hasher.in_flight == 1
            with pytest.raises(Overloaded):
                hasher.check_capacity()
            # Its own hashes (a login's verify, then a rehash) run on the place it holds.
            assert hasher.needs_rehash(await hasher.hash(PASSWORD)) is False
            assert hasher.in_flight == 1
        assert hasher.in_flight == 0
        hasher.check_capacity()  # the place is given back
    finally:
        await hasher.aclose()
