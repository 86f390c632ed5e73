"""Builders for auth's tests and the e2e suite: settings for a test database, a fast hasher."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from auth import keys
from auth.config import Settings
from events import Event
from events.contracts import UserRegisteredV1, UserVerificationRequestedV1
from events.settings import BusSettings
from events.testing import drain_outbox

if TYPE_CHECKING:
    from devkit.platform import LocalRun

PASSWORD = "correct horse battery staple"  # noqa: S105 - a test fixture, not a secret


def local_env(run: LocalRun) -> dict[str, str]:
    """Auth's own settings for a local run (devkit.platform): fresh signing keys each run; the
    test platform hashes at argon2's cheapest, so bursts of registrations on a shared machine
    test the workflows rather than the hashing (`just up` keeps the production cost)."""
    env = {"SIGNING_KEYS": signing_keys_env()}
    if not run.dev:
        env |= {
            "ARGON2_TIME_COST": "1",
            "ARGON2_MEMORY_COST_KIB": "8192",
            "ARGON2_PARALLELISM": "1",
        }
    return env


def signing_keys_env(count: int = 1) -> str:
    """A value for AUTH_SIGNING_KEYS with fresh keys."""
    return json.dumps([keys.to_config(keys.generate()) for _ in range(count)])


def settings_for(
    database_url: str, bus: BusSettings | None = None, **overrides: object
) -> Settings:
    """Test settings: real database, fresh keys, argon2 at its cheapest (fast tests)."""
    values: dict[str, object] = {
        "environment": "test",
        "database_url": SecretStr(database_url),
        "signing_keys": json.loads(signing_keys_env()),
        "argon2_time_cost": 1,
        "argon2_memory_cost_kib": 8192,
        "argon2_parallelism": 1,
        "log_json": False,
    }
    if bus is not None:
        values["bus"] = bus
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


class Outbox:
    """Everything auth published so far, drained through the contract kit."""

    def __init__(self, container: Any) -> None:
        self.engine: AsyncEngine = container.engine
        self.events: list[Event[Any]] = []

    async def drain(self) -> list[Event[Any]]:
        fresh = await drain_outbox(self.engine)
        self.events += fresh
        return fresh

    async def types(self) -> list[str]:
        await self.drain()
        return [e.type for e in self.events]

    async def token_for(self, email: str) -> str:
        await self.drain()
        tokens: list[str] = [
            e.data.token
            for e in self.events
            if isinstance(e.data, UserVerificationRequestedV1)
            and e.data.email.lower() == email.lower()
        ]
        assert tokens, f"no verification was requested for {email}"
        return tokens[-1]


async def register(
    client: httpx.AsyncClient,
    email: str | None = None,
    password: str = PASSWORD,
    display_name: str = "Ada Lovelace",
    **headers: str,
) -> httpx.Response:
    return await client.post(
        "/auth/register",
        json={
            "email": email or f"ada-{uuid.uuid4().hex[:8]}@example.org",
            "password": password,
            "display_name": display_name,
        },
        headers=headers,
    )


async def active_user(
    client: httpx.AsyncClient, outbox: Outbox, email: str | None = None
) -> tuple[str, str]:
    """Register and verify an account; returns (user id, email)."""
    email = email or f"ada-{uuid.uuid4().hex[:8]}@example.org"
    created = await register(client, email)
    assert created.status_code == 202, created.text
    verified = await client.post("/auth/verify", json={"token": await outbox.token_for(email)})
    assert verified.status_code == 200, verified.text
    return verified.json()["id"], email


async def user_id_of(outbox: Outbox, email: str) -> str:
    """The id auth gave the account of `email` (registration does not say it: see api.py)."""
    await outbox.drain()
    ids = [
        str(e.data.user_id)
        for e in outbox.events
        if isinstance(e.data, UserRegisteredV1) and e.data.email.lower() == email.lower()
    ]
    assert ids, f"no account was registered for {email}"
    return ids[-1]


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/auth/login", json={"email": email, "password": password})
