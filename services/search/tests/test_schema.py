"""The migrations and the models (and the index's tables) describe the same schema."""

from __future__ import annotations

from search.bootstrap import SERVICE
from servicekit.testing import schema_drift, tables_after

TABLES = {
    "projected_portfolios",
    "projected_items",
    "projected_thumbnails",
    "projected_owners",
    "search_documents",
    "search_words",
}


async def test_the_migrations_build_exactly_the_models_tables(database: str) -> None:
    assert await schema_drift(SERVICE, database) == [], "a model changed without a migration"


async def test_the_migrations_downgrade_and_upgrade_again(database: str) -> None:
    assert await tables_after(SERVICE, database, "base") == {"alembic_version"}
    assert await tables_after(SERVICE, database, "head") >= TABLES | {"outbox", "inbox"}
