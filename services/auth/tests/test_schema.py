"""The migrations and the models describe the same schema, and the migrations go both ways."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlmodel import SQLModel

import auth.models  # noqa: F401 - registers the tables
from auth.testing import MIGRATIONS
from events.db import create_engine
from events.tables import metadata as bus_tables
from servicekit import migrations


async def test_the_migrations_build_exactly_the_models_tables(database: str) -> None:
    def differences(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection)
        return list(compare_metadata(context, [SQLModel.metadata, bus_tables]))

    engine = create_engine(database)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(differences)
    finally:
        await engine.dispose()
    assert diff == [], "a model changed without a migration (or the reverse)"


async def test_the_migrations_downgrade_and_upgrade_again(database: str) -> None:
    def tables(connection: Connection) -> set[str]:
        return set(inspect(connection).get_table_names())

    engine = create_engine(database)
    try:
        await asyncio.to_thread(migrations.downgrade, MIGRATIONS, database, "base")
        async with engine.connect() as conn:
            assert await conn.run_sync(tables) == {"alembic_version"}
        await asyncio.to_thread(migrations.upgrade, MIGRATIONS, database)
        async with engine.connect() as conn:
            assert await conn.run_sync(tables) >= {
                "users",
                "verification_tokens",
                "sessions",
                "refresh_tokens",
                "login_attempts",
                "outbox",
                "inbox",
            }
    finally:
        await engine.dispose()
