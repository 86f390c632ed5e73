"""provider backoff apart from the send lease; the audit of lifted suppressions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 21:30:00.000000
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
    op.add_column("emails", sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "suppression_audit",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("address_key", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("operator", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("previous_reason", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("previous_detail", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("suppressed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_suppression_audit_address_key"),
        "suppression_audit",
        ["address_key"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_suppression_audit_address_key"), table_name="suppression_audit")
    op.drop_table("suppression_audit")
    op.drop_column("emails", "not_before")
