"""Create notifications, preferences, deliveries, push subscriptions and phone numbers.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21 10:02:14.317482
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("recipient_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("subject_type", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("channels", postgresql.ARRAY(sa.String(length=16)), nullable=False),
        sa.Column(
            "in_app",
            sa.Boolean(),
            sa.Computed("'in_app' = ANY (channels)", persisted=True),
            nullable=False,
        ),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_notifications_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["users.id"],
            name=op.f("fk_notifications_recipient_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint(
            "source", "recipient_id", name=op.f("uq_notifications_source_recipient_id")
        ),
        comment="What each user is told; at most one per recipient and source.",
    )
    op.create_index("ix_notifications_actor_id", "notifications", ["actor_id"], unique=False)
    op.create_index("ix_notifications_created_at", "notifications", ["created_at"], unique=False)
    op.create_index(
        "ix_notifications_in_app_recipient_id_created_at_id",
        "notifications",
        ["recipient_id", "created_at", "id"],
        unique=False,
        postgresql_where=sa.text("in_app"),
    )
    op.create_index(
        "ix_notifications_unread_recipient_id_created_at_id",
        "notifications",
        ["recipient_id", "created_at", "id"],
        unique=False,
        postgresql_where=sa.text("in_app AND read_at IS NULL"),
    )
    op.create_table(
        "notification_preferences",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("choices", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notification_preferences_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_preferences")),
        comment="The kinds whose channels each user chose (kind to channels); others use defaults.",
    )
    op.create_table(
        "notification_deliveries",
        sa.Column("notification_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_notification_deliveries_notification_id_notifications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "notification_id", "channel", name=op.f("pk_notification_deliveries")
        ),
        comment="The latest outcome of each notification on each channel, and how many tries.",
    )
    op.create_index(
        "ix_notification_deliveries_unfinished_updated_at",
        "notification_deliveries",
        ["updated_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('pending', 'sending')"),
    )
    op.create_table(
        "push_subscriptions",
        sa.Column("endpoint", sa.String(length=2048), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("p256dh", sa.String(length=128), nullable=False),
        sa.Column("auth", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_push_subscriptions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("endpoint", name=op.f("pk_push_subscriptions")),
        comment="Web Push subscriptions; an endpoint is one browser's, so it belongs to one user.",
    )
    op.create_index(
        "ix_push_subscriptions_user_id_created_at",
        "push_subscriptions",
        ["user_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "phone_numbers",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("code_hash", sa.String(length=128), nullable=True),
        sa.Column("code_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts_left", sa.SmallInteger(), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_phone_numbers_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_phone_numbers")),
        comment="Each user's phone number in E.164 and its verification; only the code's hash.",
    )


def downgrade() -> None:
    op.drop_table("phone_numbers")
    op.drop_index("ix_push_subscriptions_user_id_created_at", table_name="push_subscriptions")
    op.drop_table("push_subscriptions")
    op.drop_index(
        "ix_notification_deliveries_unfinished_updated_at",
        table_name="notification_deliveries",
        postgresql_where=sa.text("status IN ('pending', 'sending')"),
    )
    op.drop_table("notification_deliveries")
    op.drop_table("notification_preferences")
    op.drop_index(
        "ix_notifications_unread_recipient_id_created_at_id",
        table_name="notifications",
        postgresql_where=sa.text("in_app AND read_at IS NULL"),
    )
    op.drop_index(
        "ix_notifications_in_app_recipient_id_created_at_id",
        table_name="notifications",
        postgresql_where=sa.text("in_app"),
    )
    op.drop_index("ix_notifications_created_at", table_name="notifications")
    op.drop_index("ix_notifications_actor_id", table_name="notifications")
    op.drop_table("notifications")
