"""Running a service's Alembic migrations from code (`python -m <service> migrate`).

Every service shares one Alembic environment (`servicekit/alembic/env.py`); its own versions
live inside its package (`<service>/migrations/`), so an installed wheel carries them and no
image needs to be told where they are. Migrations run on asyncpg like the service itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, Table, pool
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import async_engine_from_config

from events.tables import metadata as bus_tables

if TYPE_CHECKING:
    from servicekit.service import Service

ENVIRONMENT = Path(__file__).resolve().parent / "alembic"


def alembic_config(versions: Path, database_url: str, target: Sequence[MetaData] = ()) -> Config:
    """An Alembic config without an ini file: the shared environment, the service's versions."""
    config = Config()
    config.set_main_option("script_location", str(ENVIRONMENT))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(versions))
    url = make_url(database_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+asyncpg")
    # ConfigParser interpolates %; a password may contain one.
    config.set_main_option(
        "sqlalchemy.url", url.render_as_string(hide_password=False).replace("%", "%%")
    )
    config.attributes["target_metadata"] = list(target)
    return config


def service_metadata(service: Service[Any]) -> list[MetaData]:
    """The service's own tables (its models'), the bus's and its backends': what its database
    holds. Other services' models may share SQLModel's metadata in one process (the local
    runner imports them all), so only the tables mapped by the service's own classes count."""
    from sqlmodel import SQLModel

    service.load_models()
    own = MetaData()
    for mapper in SQLModel._sa_registry.mappers:
        if mapper.class_.__module__.split(".")[0] == service.name:
            table = mapper.local_table
            if isinstance(table, Table):
                table.to_metadata(own)
    # The bus's tables are listed so that autogenerate knows them and leaves them alone.
    return [own, bus_tables, *service.tables]


def service_config(service: Service[Any], database_url: str) -> Config:
    return alembic_config(service.migrations_dir(), database_url, service_metadata(service))


def upgrade(service: Service[Any], database_url: str, revision: str = "head") -> None:
    command.upgrade(service_config(service, database_url), revision)


def downgrade(service: Service[Any], database_url: str, revision: str = "base") -> None:
    command.downgrade(service_config(service, database_url), revision)


def revision(service: Service[Any], database_url: str, message: str) -> None:
    """Autogenerate the next version (`0002_<message>.py`) from the models against an
    up-to-date database; read it, then add what autogenerate cannot see."""
    existing = [p.name[:4] for p in service.migrations_dir().glob("[0-9][0-9][0-9][0-9]_*.py")]
    number = f"{max((int(n) for n in existing), default=0) + 1:04d}"
    config = service_config(service, database_url)
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    command.revision(config, message=message, autogenerate=True, rev_id=number)


def run_env(context: Any, target_metadata: MetaData | Sequence[MetaData]) -> None:
    """The body of the shared env.py: offline SQL, or online on asyncpg."""
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
