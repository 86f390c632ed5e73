"""client networks on login attempts; request events (registration, reset limits); reset tokens

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 22:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "login_attempts",
        sa.Column("client_network", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    )
    # Rows from before: their address is their network (an IPv6 /64 is told apart from now on).
    op.execute("UPDATE login_attempts SET client_network = client_address")
    op.alter_column("login_attempts", "client_network", nullable=False)
    op.create_index(
        "login_attempts_by_network", "login_attempts", ["client_network", "at"], unique=False
    )
    op.create_table(
        "request_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("client_network", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("target_key", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("request_events_at", "request_events", ["at"], unique=False)
    op.create_index(
        "request_events_by_network",
        "request_events",
        ["action", "client_network", "at"],
        unique=False,
    )
    op.create_index(
        "request_events_by_target", "request_events", ["action", "target_key", "at"], unique=False
    )
    op.create_table(
        "password_reset_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index(
        op.f("ix_password_reset_tokens_expires_at"),
        "password_reset_tokens",
        ["expires_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_password_reset_tokens_user_id"), "password_reset_tokens", ["user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_password_reset_tokens_user_id"), table_name="password_reset_tokens")
    op.drop_index(op.f("ix_password_reset_tokens_expires_at"), table_name="password_reset_tokens")
    op.drop_table("password_reset_tokens")
    op.drop_index("request_events_by_target", table_name="request_events")
    op.drop_index("request_events_by_network", table_name="request_events")
    op.drop_index("request_events_at", table_name="request_events")
    op.drop_table("request_events")
    op.drop_index("login_attempts_by_network", table_name="login_attempts")
    op.drop_column("login_attempts", "client_network")
