"""the projection, the PostgreSQL index (pg_trgm, unaccent), the outbox and inbox

Revision ID: 0001
Revises:
Create Date: 2026-11-26 22:33:54.804396
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

from events import create_bus_tables, drop_bus_tables
from search.adapters.postgres_schema import CONFIG, EXTENSIONS_DDL

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The index's extensions and text search configuration come before its tables.
    for statement in EXTENSIONS_DDL:
        op.execute(statement)
    op.create_table(
        "projected_items",
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("portfolio_id", sa.Uuid(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.Uuid(), nullable=True),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("item_id"),
    )
    op.create_index(
        op.f("ix_projected_items_media_id"), "projected_items", ["media_id"], unique=False
    )
    op.create_index(
        op.f("ix_projected_items_portfolio_id"), "projected_items", ["portfolio_id"], unique=False
    )
    op.create_table(
        "projected_owners",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "projected_portfolios",
        sa.Column("portfolio_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("visibility", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("portfolio_id"),
    )
    op.create_table(
        "projected_thumbnails",
        sa.Column("media_id", sa.Uuid(), nullable=False),
        sa.Column("thumbnail_key", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("media_id"),
    )
    op.create_table(
        "search_documents",
        sa.Column("portfolio_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("owner_id", sa.UUID(), nullable=True),
        sa.Column("owner_name", sa.Text(), server_default="", nullable=False),
        sa.Column("title", sa.Text(), server_default="", nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "item_titles",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column(
            "items",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("thumbnail", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("v_title", postgresql.TSVECTOR(), nullable=True),
        sa.Column("v_head", postgresql.TSVECTOR(), nullable=True),
        sa.Column("vector", postgresql.TSVECTOR(), nullable=True),
        sa.Column(
            "indexed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("portfolio_id"),
    )
    op.create_index(
        "ix_search_documents_head",
        "search_documents",
        ["v_head"],
        unique=False,
        postgresql_using="gin",
        postgresql_with={"fastupdate": "off"},
    )
    op.create_index(
        "ix_search_documents_owner",
        "search_documents",
        ["owner_id", sa.literal_column("updated_at DESC"), sa.literal_column("portfolio_id DESC")],
        unique=False,
        postgresql_where=sa.text("NOT deleted"),
    )
    op.create_index(
        "ix_search_documents_recent",
        "search_documents",
        [sa.literal_column("updated_at DESC"), sa.literal_column("portfolio_id DESC")],
        unique=False,
        postgresql_where=sa.text("NOT deleted"),
    )
    op.create_index(
        "ix_search_documents_title",
        "search_documents",
        ["v_title"],
        unique=False,
        postgresql_using="gin",
        postgresql_with={"fastupdate": "off"},
    )
    op.create_index(
        "ix_search_documents_vector",
        "search_documents",
        ["vector"],
        unique=False,
        postgresql_using="gin",
        postgresql_with={"fastupdate": "off"},
    )
    op.create_table(
        "search_words",
        sa.Column("word", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("word"),
    )
    op.create_index(
        "ix_search_words_shape",
        "search_words",
        [sa.literal_column("left(word, 1)"), sa.literal_column("length(word)")],
        unique=False,
    )
    op.create_index(
        "ix_search_words_trgm",
        "search_words",
        ["word"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"word": "gin_trgm_ops"},
        postgresql_with={"fastupdate": "off"},
    )
    create_bus_tables(op.get_bind())


def downgrade() -> None:
    drop_bus_tables(op.get_bind())
    op.drop_index(
        "ix_search_words_trgm",
        table_name="search_words",
        postgresql_using="gin",
        postgresql_ops={"word": "gin_trgm_ops"},
        postgresql_with={"fastupdate": "off"},
    )
    op.drop_index("ix_search_words_shape", table_name="search_words")
    op.drop_table("search_words")
    op.drop_index(
        "ix_search_documents_vector",
        table_name="search_documents",
        postgresql_using="gin",
        postgresql_with={"fastupdate": "off"},
    )
    op.drop_index(
        "ix_search_documents_title",
        table_name="search_documents",
        postgresql_using="gin",
        postgresql_with={"fastupdate": "off"},
    )
    op.drop_index(
        "ix_search_documents_recent",
        table_name="search_documents",
        postgresql_where=sa.text("NOT deleted"),
    )
    op.drop_index(
        "ix_search_documents_owner",
        table_name="search_documents",
        postgresql_where=sa.text("NOT deleted"),
    )
    op.drop_index(
        "ix_search_documents_head",
        table_name="search_documents",
        postgresql_using="gin",
        postgresql_with={"fastupdate": "off"},
    )
    op.drop_table("search_documents")
    op.drop_table("projected_thumbnails")
    op.drop_table("projected_portfolios")
    op.drop_table("projected_owners")
    op.drop_index(op.f("ix_projected_items_portfolio_id"), table_name="projected_items")
    op.drop_index(op.f("ix_projected_items_media_id"), table_name="projected_items")
    op.drop_table("projected_items")
    op.execute(f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {CONFIG}")
