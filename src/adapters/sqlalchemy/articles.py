"""Articles, tags, favorites and comments in PostgreSQL: the write side."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.sqlalchemy.errors import constraint_name
from adapters.sqlalchemy.precompiled import PrecompiledStatements
from adapters.sqlalchemy.tables import article_tags, articles, comments, favorites
from application.articles.errors import SlugTakenError
from application.articles.ports import ArticleRepository, CommentRepository
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


def _build_locked_read() -> sa.Select[Any]:
    """The article by slug with its tags, its row locked, and both versions of the row."""
    seen = articles.alias("seen")
    seen_version = (
        sa.select(sa.literal_column("seen.xmin::text"))
        .select_from(seen)
        .where(seen.c.id == articles.c.id)
        .scalar_subquery()
    )
    return (
        sa.select(
            articles,
            tag_names(articles.c.id).label("tags"),
            sa.literal_column("articles.xmin::text").label("locked_version"),
            seen_version.label("seen_version"),
        )
        .where(articles.c.slug == sa.bindparam("slug", type_=sa.String))
        .with_for_update(of=articles)
    )


def _build_save() -> sa.Insert:
    """Update the article, delete its dropped tags, and upsert the rest, as one statement."""
    article_id = sa.bindparam("article_id", type_=sa.Uuid)
    names = sa.bindparam("tags", type_=ARRAY(sa.String))
    edited = (
        sa.update(articles)
        .where(articles.c.id == article_id)
        .values(
            {
                name: sa.bindparam(name, type_=articles.c[name].type)
                for name in ("title", "description", "body", "updated_at")
            }
        )
        .returning(articles.c.id)
        .cte("edited")
    )
    dropped = (
        sa.delete(article_tags)
        .where(article_tags.c.article_id == article_id, article_tags.c.tag != sa.all_(names))
        .returning(article_tags.c.tag)
        .cte("dropped")
    )
    wanted = (
        sa.func.unnest(names, sa.bindparam("positions", type_=ARRAY(sa.SmallInteger)))
        .table_valued("tag", "position")
        .render_derived(name="wanted")
    )
    upsert = pg_insert(article_tags).from_select(
        ["article_id", "tag", "position"],
        sa.select(article_id, wanted.c.tag, wanted.c.position),
    )
    return upsert.on_conflict_do_update(
        index_elements=[article_tags.c.article_id, article_tags.c.tag],
        set_={"position": upsert.excluded.position},
        where=article_tags.c.position != upsert.excluded.position,
    ).add_cte(edited, dropped)


_LOCKED_BY_SLUG = PrecompiledStatements(_build_locked_read)
_SAVE = PrecompiledStatements(_build_save)
_TAGS_OF = PrecompiledStatements(
    lambda: sa.select(tag_names(sa.bindparam("id", type_=sa.Uuid)).label("tags"))
)
"""An edit's locking read and its write, compiled once: each is a complex statement whose
construction cost more Python than the round trip (`adapters.sqlalchemy.precompiled`)."""


class SqlArticleRepository(ArticleRepository):
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
        names = list(article.tags.names)
        await self._connection.exec_driver_sql(
            _SAVE.sql(),
            {
                "article_id": article.id.value,
                "title": str(article.title),
                "description": str(article.description),
                "body": str(article.body),
                "updated_at": article.updated_at,
                "tags": names,
                "positions": list(range(len(names))),
            },
        )

    async def get_by_slug(self, slug: str, *, for_update: bool = False) -> Article | None:
        """Load the article and its tags in one statement; `for_update` locks its row.

        A locking read that waited for another transaction returns the row as that one
        left it, but the tags subquery still answers from before the wait. So the locked
        row's version (`xmin`) is compared with the version the statement started from,
        and only when they differ, that is when an edit landed meanwhile, are the tags
        read again.
        """
        if for_update:
            result = await self._connection.exec_driver_sql(_LOCKED_BY_SLUG.sql(), {"slug": slug})
            row = result.mappings().first()
            if row is None:
                return None
            tags = row["tags"]
            if row["locked_version"] != row["seen_version"]:
                again = await self._connection.exec_driver_sql(_TAGS_OF.sql(), {"id": row["id"]})
                tags = again.scalar()
        else:
            statement = sa.select(articles, tag_names(articles.c.id).label("tags")).where(
                articles.c.slug == slug
            )
            row = (await self._connection.execute(statement)).mappings().first()
            if row is None:
                return None
            tags = row["tags"]
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


class SqlCommentRepository(CommentRepository):
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
