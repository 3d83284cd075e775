"""Record which client rotated each refresh token.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 21:40:00.000000

A refresh token presented again a few seconds after its rotation, by the client that
rotated it, gets the same answer rather than revoking its session (docs/identity.md).
Tokens retired before this revision name no client, so a repeat of them is a reuse.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "retired_refresh_tokens"


def upgrade() -> None:
    op.add_column(
        _TABLE,
        sa.Column(
            "retired_by",
            sa.String(length=128),
            nullable=True,
            comment="Fingerprint of the client (IP, User-Agent) that presented it for rotation.",
        ),
    )


def downgrade() -> None:
    op.drop_column(_TABLE, "retired_by")
