"""Track outbox delivery attempts.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 08:04:20.185521
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("outbox", sa.Column("last_error", sa.String(length=500), nullable=True))
    op.create_index(
        "ix_outbox_sent_at",
        "outbox",
        ["sent_at"],
        unique=False,
        postgresql_where=sa.text("sent_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_outbox_sent_at", table_name="outbox", postgresql_where=sa.text("sent_at IS NOT NULL")
    )
    op.drop_column("outbox", "last_error")
    op.drop_column("outbox", "next_attempt_at")
