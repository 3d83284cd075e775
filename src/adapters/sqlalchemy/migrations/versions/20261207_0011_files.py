"""Create files: the records of uploaded files, whose bytes are in storage.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 08:44:20.062380
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "files",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=255), nullable=False),
        sa.Column("thumbnail_key", sa.String(length=255), nullable=True),
        sa.Column("backend", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "article_id",
            sa.Uuid(),
            nullable=True,
            comment=(
                "The article an image is shown with. No foreign key: the images are deleted "
                "by the handler of article.deleted, which finds them by this id."
            ),
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "purpose IN ('avatar', 'article_image', 'attachment')", name=op.f("ck_files_purpose")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'ready', 'rejected', 'deleted')", name=op.f("ck_files_status")
        ),
        sa.CheckConstraint("size >= 0", name=op.f("ck_files_size_not_negative")),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_files_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_files")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_files_storage_key")),
        sa.UniqueConstraint("thumbnail_key", name=op.f("uq_files_thumbnail_key")),
        comment="Uploaded files; the bytes are in storage under storage_key, derived from the id.",
    )
    op.create_index(
        "ix_files_article_id",
        "files",
        ["article_id"],
        unique=False,
        postgresql_where=sa.text("article_id IS NOT NULL"),
    )
    op.create_index(
        "ix_files_in_use_owner_id",
        "files",
        ["owner_id"],
        unique=False,
        postgresql_where=sa.text("status IN ('pending', 'ready')"),
    )
    op.create_index("ix_files_status_updated_at", "files", ["status", "updated_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_files_status_updated_at", table_name="files")
    op.drop_index(
        "ix_files_in_use_owner_id",
        table_name="files",
        postgresql_where=sa.text("status IN ('pending', 'ready')"),
    )
    op.drop_index(
        "ix_files_article_id",
        table_name="files",
        postgresql_where=sa.text("article_id IS NOT NULL"),
    )
    op.drop_table("files")
