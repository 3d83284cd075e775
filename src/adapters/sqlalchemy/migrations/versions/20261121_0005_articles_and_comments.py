"""Create articles, tags, favorites and comments.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 07:13:25.583285
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "articles",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(length=128), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_articles_author_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_articles")),
        sa.UniqueConstraint("slug", name=op.f("uq_articles_slug")),
        comment="Articles; the slug is fixed at publication, so links outlive title edits.",
    )
    op.create_index(
        "ix_articles_author_id_created_at_id",
        "articles",
        ["author_id", "created_at", "id"],
        unique=False,
    )
    op.create_index("ix_articles_created_at_id", "articles", ["created_at", "id"], unique=False)
    op.create_table(
        "article_tags",
        sa.Column("article_id", sa.Uuid(), nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_article_tags_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", "tag", name=op.f("pk_article_tags")),
        comment="The tags of each article, in the order the author gave them.",
    )
    op.create_index(
        "ix_article_tags_tag_article_id", "article_tags", ["tag", "article_id"], unique=False
    )
    op.create_table(
        "comments",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("article_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_comments_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_comments_author_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
        comment="Comments; ids are integers drawn from the identity before the insert.",
    )
    op.create_index(
        "ix_comments_article_id_created_at_id",
        "comments",
        ["article_id", "created_at", "id"],
        unique=False,
    )
    op.create_index("ix_comments_author_id", "comments", ["author_id"], unique=False)
    op.create_table(
        "favorites",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("article_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_favorites_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_favorites_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "article_id", name=op.f("pk_favorites")),
        comment="Which user favors which article.",
    )
    op.create_index("ix_favorites_article_id", "favorites", ["article_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_favorites_article_id", table_name="favorites")
    op.drop_table("favorites")
    op.drop_index("ix_comments_author_id", table_name="comments")
    op.drop_index("ix_comments_article_id_created_at_id", table_name="comments")
    op.drop_table("comments")
    op.drop_index("ix_article_tags_tag_article_id", table_name="article_tags")
    op.drop_table("article_tags")
    op.drop_index("ix_articles_created_at_id", table_name="articles")
    op.drop_index("ix_articles_author_id_created_at_id", table_name="articles")
    op.drop_table("articles")
