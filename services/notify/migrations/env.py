"""Alembic environment: notify's tables plus the bus's outbox and inbox, on asyncpg."""

from alembic import context
from sqlmodel import SQLModel

import notify.models  # noqa: F401 - registers the tables on SQLModel.metadata
from servicekit.migrations import run_env

run_env(context, SQLModel.metadata)
