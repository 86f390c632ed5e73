"""Alembic environment: notify's tables plus the bus's outbox and inbox, on asyncpg."""

from alembic import context
from sqlmodel import SQLModel

import notify.models  # noqa: F401 - registers the tables on SQLModel.metadata
from events.tables import metadata as bus_tables
from servicekit.migrations import run_env

# The bus's tables are listed so that autogenerate knows them and leaves them alone.
run_env(context, [SQLModel.metadata, bus_tables])
