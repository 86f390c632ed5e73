"""The one Alembic environment every service's migrations run in (see servicekit.migrations)."""

from alembic import context

from servicekit.migrations import run_env

run_env(context, context.config.attributes["target_metadata"])
