"""owners, portfolios, items, collaborators; the outbox and inbox

Revision ID: 0001
Revises:
Create Date: 2026-11-26 20:43:05.460648
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
        "owners",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("handle", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
        sa.UniqueConstraint("handle"),
    )
    op.create_table(
        "portfolios",
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=5000), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("visibility", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("visibility IN ('public', 'unlisted', 'private')", name="visibility"),
        sa.CheckConstraint("version >= 1", name="portfolio_version"),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["owners.user_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "portfolios_deleted",
        "portfolios",
        ["deleted_at"],
        unique=False,
        postgresql_where=sa.text("deleted_at IS NOT NULL"),
    )
    op.create_index(
        "portfolios_live_slug",
        "portfolios",
        ["owner_id", "slug"],
        unique=True,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_index(
        "portfolios_owner_created", "portfolios", ["owner_id", "created_at", "id"], unique=False
    )
    op.create_table(
        "collaborators",
        sa.Column("portfolio_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('editor', 'viewer')", name="collaborator_role"),
        sa.ForeignKeyConstraint(["portfolio_id"], ["portfolios.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["owners.user_id"],
        ),
        sa.PrimaryKeyConstraint("portfolio_id", "user_id"),
    )
    op.create_table(
        "items",
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=5000), nullable=False),
        sa.Column("media_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("portfolio_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("media_status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("media_version", sa.Integer(), nullable=False),
        sa.Column(
            "variants",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("thumbnail_key", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "media_status IN ('none', 'processing', 'ready', 'failed')", name="media_status"
        ),
        sa.CheckConstraint("position >= 0", name="item_position"),
        sa.ForeignKeyConstraint(["portfolio_id"], ["portfolios.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "items_live_position",
        "items",
        ["portfolio_id", "position"],
        unique=False,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_index("collaborators_user", "collaborators", ["user_id"])
    create_bus_tables(op.get_bind())


def downgrade() -> None:
    drop_bus_tables(op.get_bind())
    op.drop_index("collaborators_user", table_name="collaborators")
    op.drop_index(
        "items_live_position", table_name="items", postgresql_where=sa.text("deleted_at IS NULL")
    )
    op.drop_table("items")
    op.drop_table("collaborators")
    op.drop_index("portfolios_owner_created", table_name="portfolios")
    op.drop_index(
        "portfolios_live_slug",
        table_name="portfolios",
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.drop_index(
        "portfolios_deleted",
        table_name="portfolios",
        postgresql_where=sa.text("deleted_at IS NOT NULL"),
    )
    op.drop_table("portfolios")
    op.drop_table("owners")
