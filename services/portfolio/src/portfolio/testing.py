"""Builders for portfolio's tests and the e2e suite: settings, owners, the outbox drained."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import SecretStr

from events.contracts import UserVerifiedV1
from events.settings import BusSettings
from events.testing import delivery, example_event
from portfolio.config import RedisSettings, Settings
from portfolio.handlers.owners import record_owner

if TYPE_CHECKING:
    from devkit.platform import LocalRun
    from portfolio.container import Container

REDIS_URL = "redis://127.0.0.1:6379/0"


def local_env(run: LocalRun) -> dict[str, str]:
    """Portfolio's own settings for a local run: Redis keys under the run's own prefix; a short
    retention and purge interval in test runs, so a purge can be watched."""
    if run.dev:
        return {"REDIS__KEY_PREFIX": "portfolio-dev"}
    return {
        "REDIS__KEY_PREFIX": f"portfolio-{uuid.uuid4().hex[:8]}",
        "RETENTION": "PT20S",
        "PURGE_INTERVAL": "PT1S",
        "MAX_ITEMS": "20",
    }


def settings_for(database_url: str, bus: BusSettings | None = None, **overrides: Any) -> Settings:
    """Test settings: a real database, Redis keys of the test's own (removed by the test)."""
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": SecretStr(database_url),
        "redis": RedisSettings(
            url=SecretStr(REDIS_URL), key_prefix=f"test-{uuid.uuid4().hex[:10]}"
        ),
        "log_json": False,
    }
    if bus is not None:
        values["bus"] = bus
    values.update(overrides)
    return Settings(**values)


async def verified_owner(
    container: Container, user_id: uuid.UUID | None = None, name: str = "Ada Lovelace"
) -> uuid.UUID:
    """A verified owner in the projection, as user.verified.v1 would make one."""
    user = user_id or uuid.uuid4()
    event = example_event(
        UserVerifiedV1, user_id=user, display_name=name, verified_at=datetime.now(UTC)
    )
    await container.bound(record_owner)(delivery(event, "portfolio.owners"))
    return user


async def create(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post(
        "/portfolios", json={"title": "Paintings", **body}, headers=headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created
