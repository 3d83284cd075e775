"""Articles, tags, favorites and comments in PostgreSQL: the write side."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.sqlalchemy.tables import article_tags, articles, comments, favorites
from application.content.errors import SlugTakenError
from domain.articles.article import Article
from domain.articles.comment import Comment
from domain.articles.values import (
    ArticleId,
    Body,
    CommentBody,
    CommentId,
    Description,
    Slug,
    Tag,
    TagList,
    Title,
)
from domain.users.values import UserId


def tag_names(article_id: sa.ColumnElement[Any]) -> sa.ScalarSelect[Any]:
    """The article's tags as one array, in the author's order; NULL when it has none."""
    return (
        sa.select(
            sa.func.array_agg(aggregate_order_by(article_tags.c.tag, article_tags.c.position))
        )
        .where(article_tags.c.article_id == article_id)
        .scalar_subquery()
    )


def _article_row(article: Article) -> dict[str, Any]:
    return {
        "id": article.id.value,
        "author_id": article.author_id.value,
        "slug": str(article.slug),
        "title": str(article.title),
        "description": str(article.description),
        "body": str(article.body),
        "created_at": article.created_at,
        "updated_at": article.updated_at,
    }


class SqlArticleRepository:
    """The `ArticleRepository` port on PostgreSQL, on the request's connection."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, article: Article) -> None:
        """Insert the article and its tags; a taken slug fails in a savepoint."""
        try:
            async with self._connection.begin_nested():
                await self._connection.execute(sa.insert(articles).values(_article_row(article)))
        except IntegrityError as exc:
            constraint = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
            if constraint == "uq_articles_slug":
                raise SlugTakenError from None
            raise
        await self._insert_tags(article)

    async def save(self, article: Article) -> None:
        """Update the article's columns and replace its tags."""
        row = _article_row(article)
        for fixed in ("id", "author_id", "slug", "created_at"):
            del row[fixed]
        await self._connection.execute(
            sa.update(articles).where(articles.c.id == article.id.value).values(row)
        )
        await self._connection.execute(
            sa.delete(article_tags).where(article_tags.c.article_id == article.id.value)
        )
        await self._insert_tags(article)

    async def get_by_slug(self, slug: str) -> Article | None:
        """Load the article and its tags in one statement."""
        statement = sa.select(articles, tag_names(articles.c.id).label("tags")).where(
            articles.c.slug == slug
        )
        row = (await self._connection.execute(statement)).mappings().first()
        if row is None:
            return None
        return Article(
            id=ArticleId(row["id"]),
            author_id=UserId(row["author_id"]),
            slug=Slug(row["slug"]),
            title=Title(row["title"]),
            description=Description(row["description"]),
            body=Body(row["body"]),
            tags=TagList(tuple(Tag(name) for name in row["tags"] or ())),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    async def remove(self, article_id: ArticleId) -> None:
        """Delete the article; tags, favorites and comments go by cascade."""
        await self._connection.execute(sa.delete(articles).where(articles.c.id == article_id.value))

    async def add_favorite(self, user_id: UserId, article_id: ArticleId, *, at: datetime) -> bool:
        """Insert the favorite unless it exists; True when a row was added."""
        statement = (
            pg_insert(favorites)
            .values(user_id=user_id.value, article_id=article_id.value, created_at=at)
            .on_conflict_do_nothing()
            .returning(favorites.c.user_id)
        )
        return (await self._connection.execute(statement)).first() is not None

    async def remove_favorite(self, user_id: UserId, article_id: ArticleId) -> bool:
        """Delete the favorite; True when a row went."""
        statement = (
            sa.delete(favorites)
            .where(favorites.c.user_id == user_id.value, favorites.c.article_id == article_id.value)
            .returning(favorites.c.user_id)
        )
        return (await self._connection.execute(statement)).first() is not None

    async def _insert_tags(self, article: Article) -> None:
        if not article.tags.tags:
            return
        await self._connection.execute(
            sa.insert(article_tags),
            [
                {"article_id": article.id.value, "tag": name, "position": position}
                for position, name in enumerate(article.tags.names)
            ],
        )


class SqlCommentRepository:
    """The `CommentRepository` port on PostgreSQL; ids are drawn from the identity sequence."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def next_id(self) -> CommentId:
        """Draw the next value of the comments identity."""
        value = await self._connection.scalar(
            sa.select(sa.func.nextval(sa.func.pg_get_serial_sequence("comments", "id")))
        )
        if value is None:
            raise RuntimeError("the comments identity sequence is missing")
        return CommentId(int(value))

    async def add(self, comment: Comment) -> None:
        """Insert the comment with its drawn id."""
        await self._connection.execute(
            sa.insert(comments).values(
                id=comment.id.value,
                article_id=comment.article_id.value,
                author_id=comment.author_id.value,
                body=str(comment.body),
                created_at=comment.created_at,
                updated_at=comment.updated_at,
            )
        )

    async def get(self, comment_id: CommentId, article_id: ArticleId) -> Comment | None:
        """Load the comment if it is under this article."""
        statement = sa.select(comments).where(
            comments.c.id == comment_id.value, comments.c.article_id == article_id.value
        )
        row = (await self._connection.execute(statement)).mappings().first()
        if row is None:
            return None
        return Comment(
            id=CommentId(row["id"]),
            article_id=ArticleId(row["article_id"]),
            author_id=UserId(row["author_id"]),
            body=CommentBody(row["body"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    async def remove(self, comment_id: CommentId) -> None:
        """Delete the comment."""
        await self._connection.execute(sa.delete(comments).where(comments.c.id == comment_id.value))
