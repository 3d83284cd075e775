"""Articles, tags, favorites and comments in PostgreSQL: the write side."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.sqlalchemy.errors import constraint_name
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
            if constraint_name(exc) == "uq_articles_slug":
                raise SlugTakenError from None
            raise
        await self._insert_tags(article)

    async def save(self, article: Article) -> None:
        """Write the article's fields and bring its tags in line, in one statement.

        Tags no longer carried are deleted, new ones inserted, moved ones renumbered, and
        unchanged ones left alone, so an edit that keeps the tags writes none. The caller
        holds the article's lock (`get_by_slug(..., for_update=True)`).
        """
        article_id = article.id.value
        row = _article_row(article)
        for fixed in ("id", "author_id", "slug", "created_at"):
            del row[fixed]
        names = list(article.tags.names)
        edited = (
            sa.update(articles)
            .where(articles.c.id == article_id)
            .values(row)
            .returning(articles.c.id)
            .cte("edited")
        )
        dropped = (
            sa.delete(article_tags)
            .where(article_tags.c.article_id == article_id, article_tags.c.tag.not_in(names))
            .returning(article_tags.c.tag)
            .cte("dropped")
        )
        wanted = (
            sa.func.unnest(
                sa.literal(names, ARRAY(sa.String)),
                sa.literal(list(range(len(names))), ARRAY(sa.SmallInteger)),
            )
            .table_valued("tag", "position")
            .render_derived(name="wanted")
        )
        upsert = pg_insert(article_tags).from_select(
            ["article_id", "tag", "position"],
            sa.select(sa.literal(article_id, sa.Uuid), wanted.c.tag, wanted.c.position),
        )
        upsert = upsert.on_conflict_do_update(
            index_elements=[article_tags.c.article_id, article_tags.c.tag],
            set_={"position": upsert.excluded.position},
            where=article_tags.c.position != upsert.excluded.position,
        ).add_cte(edited, dropped)
        await self._connection.execute(upsert)

    async def get_by_slug(self, slug: str, *, for_update: bool = False) -> Article | None:
        """Load the article and its tags in one statement; `for_update` locks its row.

        A locking read that waited for another transaction returns the row as that one
        left it, but the tags subquery still answers from before the wait. So the locked
        row's version (`xmin`) is compared with the version the statement started from,
        and only when they differ, that is when an edit landed meanwhile, are the tags
        read again.
        """
        statement = sa.select(articles, tag_names(articles.c.id).label("tags")).where(
            articles.c.slug == slug
        )
        if for_update:
            seen = articles.alias("seen")
            seen_version = (
                sa.select(sa.literal_column("seen.xmin::text"))
                .select_from(seen)
                .where(seen.c.id == articles.c.id)
                .scalar_subquery()
            )
            statement = statement.add_columns(
                sa.literal_column("articles.xmin::text").label("locked_version"),
                seen_version.label("seen_version"),
            ).with_for_update(of=articles)
        row = (await self._connection.execute(statement)).mappings().first()
        if row is None:
            return None
        tags = row["tags"]
        if for_update and row["locked_version"] != row["seen_version"]:
            tags = await self._connection.scalar(sa.select(tag_names(sa.literal(row["id"]))))
        return Article(
            id=ArticleId(row["id"]),
            author_id=UserId(row["author_id"]),
            slug=Slug(row["slug"]),
            title=Title(row["title"]),
            description=Description(row["description"]),
            body=Body(row["body"]),
            tags=TagList(tuple(Tag(name) for name in tags or ())),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    async def remove(self, article_id: ArticleId) -> bool:
        """Delete the article, its tags, favorites and comments by cascade; True if it went.

        Two racing deletes both find the article; the second waits for the first's row
        lock and then deletes nothing, so it alone learns that it lost.
        """
        statement = (
            sa.delete(articles).where(articles.c.id == article_id.value).returning(articles.c.id)
        )
        return (await self._connection.execute(statement)).first() is not None

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

    async def remove(self, comment_id: CommentId) -> bool:
        """Delete the comment; True if it went, False if a racing delete took it first."""
        statement = (
            sa.delete(comments).where(comments.c.id == comment_id.value).returning(comments.c.id)
        )
        return (await self._connection.execute(statement)).first() is not None
