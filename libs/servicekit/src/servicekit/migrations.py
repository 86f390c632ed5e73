"""Running a service's Alembic migrations from code (`python -m <service> migrate`).

Migrations run on asyncpg like the service itself, so no second database driver is installed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import async_engine_from_config


def alembic_config(migrations_dir: Path, database_url: str) -> Config:
    """An Alembic config without an ini file: the script location and URL come from settings."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    url = make_url(database_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+asyncpg")
    # ConfigParser interpolates %; a password may contain one.
    config.set_main_option(
        "sqlalchemy.url", url.render_as_string(hide_password=False).replace("%", "%%")
    )
    return config


def upgrade(migrations_dir: Path, database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(migrations_dir, database_url), revision)


def downgrade(migrations_dir: Path, database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(migrations_dir, database_url), revision)


def run_env(context: Any, target_metadata: MetaData | Sequence[MetaData]) -> None:
    """The body of every service's migrations/env.py.

    Pass the bus's tables too (`events.tables.metadata`) so autogenerate does not propose to
    drop the outbox and inbox that the first migration created.
    """
    if context.is_offline_mode():
        context.configure(
            url=context.config.get_main_option("sqlalchemy.url"),
            target_metadata=target_metadata,
            literal_binds=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return

    def run(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()

    async def online() -> None:
        engine = async_engine_from_config(
            context.config.get_section(context.config.config_ini_section, {}),
            prefix="sqlalchemy.",
            poolclass=pool.NullPool,
        )
        async with engine.connect() as connection:
            await connection.run_sync(run)
        await engine.dispose()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(online())
        return
    raise RuntimeError("run migrations outside an event loop (use asyncio.to_thread)")
