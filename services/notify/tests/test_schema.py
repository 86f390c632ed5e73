"""The migrations and the models describe the same schema, and the migrations go both ways."""

from __future__ import annotations

from notify.bootstrap import SERVICE
from servicekit.testing import schema_drift, tables_after

TABLES = {"emails", "suppressions", "suppression_audit", "provider_events"}


async def test_the_migrations_build_exactly_the_models_tables(database: str) -> None:
    assert await schema_drift(SERVICE, database) == [], "a model changed without a migration"


async def test_the_migrations_downgrade_and_upgrade_again(database: str) -> None:
    assert await tables_after(SERVICE, database, "base") == {"alembic_version"}
    assert await tables_after(SERVICE, database, "head") >= TABLES | {"outbox", "inbox"}
