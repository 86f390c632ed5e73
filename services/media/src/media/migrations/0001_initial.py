"""media, variants, the portfolio access projection; the outbox and inbox

Revision ID: 0001
Revises:
Create Date: 2026-11-26 21:43:06.471025
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

from events import create_bus_tables, drop_bus_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "item_access",
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("portfolio_id", sa.Uuid(), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("item_id"),
    )
    op.create_index(
        op.f("ix_item_access_portfolio_id"), "item_access", ["portfolio_id"], unique=False
    )
    op.create_table(
        "media",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("uploader_id", sa.Uuid(), nullable=False),
        sa.Column("portfolio_id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("checksum_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("original_key", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("failure_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purge_after", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'uploaded', 'ready', 'failed', 'deleted')", name="media_status"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("media_item", "media", ["item_id"], unique=False)
    op.create_index("media_portfolio", "media", ["portfolio_id"], unique=False)
    op.create_index(
        "media_purge_due",
        "media",
        ["purge_after"],
        unique=False,
        postgresql_where=sa.text("purge_after IS NOT NULL"),
    )
    op.create_table(
        "portfolio_access",
        sa.Column("portfolio_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("visibility", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column(
            "collaborators",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("portfolio_id"),
    )
    op.create_table(
        "variants",
        sa.Column("media_id", sa.Uuid(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("object_key", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.ForeignKeyConstraint(["media_id"], ["media.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("media_id", "name"),
    )
    create_bus_tables(op.get_bind())


def downgrade() -> None:
    drop_bus_tables(op.get_bind())
    op.drop_table("variants")
    op.drop_table("portfolio_access")
    op.drop_index(
        "media_purge_due", table_name="media", postgresql_where=sa.text("purge_after IS NOT NULL")
    )
    op.drop_index("media_portfolio", table_name="media")
    op.drop_index("media_item", table_name="media")
    op.drop_table("media")
    op.drop_index(op.f("ix_item_access_portfolio_id"), table_name="item_access")
    op.drop_table("item_access")
