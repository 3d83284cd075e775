"""Create sessions and retired refresh tokens.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 06:17:25.784650
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("device", sa.String(length=200), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_sessions_token_hash")),
        comment="Sign-in sessions; only the hash of the current refresh token is kept.",
    )
    op.create_index(
        "ix_sessions_user_id_created_at", "sessions", ["user_id", "created_at"], unique=False
    )
    op.create_table(
        "retired_refresh_tokens",
        sa.Column("token_hash", sa.String(length=128), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_retired_refresh_tokens_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_retired_refresh_tokens")),
        comment="Hashes of rotated refresh tokens, kept to detect their reuse.",
    )
    op.create_index(
        "ix_retired_refresh_tokens_session_id",
        "retired_refresh_tokens",
        ["session_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_retired_refresh_tokens_session_id", table_name="retired_refresh_tokens")
    op.drop_table("retired_refresh_tokens")
    op.drop_index("ix_sessions_user_id_created_at", table_name="sessions")
    op.drop_table("sessions")
