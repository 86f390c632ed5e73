"""index emails by lower(recipient), for delivery reports without the original Message-ID

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 10:12:04.118250
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_emails_recipient_key", "emails", [sa.text("lower(recipient)")])


def downgrade() -> None:
    op.drop_index("ix_emails_recipient_key", table_name="emails")
