"""Builders for auth's tests and the e2e suite: settings for a test database, a fast hasher."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import SecretStr

from auth import keys
from auth.config import Settings
from events.settings import BusSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


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
