"""The content read side in PostgreSQL: every request is one statement (two, rarely)."""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.sqlalchemy.articles import tag_names
from adapters.sqlalchemy.tables import article_tags, articles, comments, favorites, follows, users
from application.ports.content import ArticlePage, ArticleQuery, ArticleView, CommentView
from application.ports.persistence import ProfileView
from domain.users.values import UserId


def _following(author_id: sa.ColumnElement[Any], viewer: UserId | None) -> sa.ColumnElement[bool]:
    if viewer is None:
        return sa.false()
    return sa.exists().where(
        follows.c.follower_id == viewer.value, follows.c.followee_id == author_id
    )


def _favorited(article_id: sa.ColumnElement[Any], viewer: UserId | None) -> sa.ColumnElement[bool]:
    if viewer is None:
        return sa.false()
    return sa.exists().where(
        favorites.c.user_id == viewer.value, favorites.c.article_id == article_id
    )


def _favorites_count(article_id: sa.ColumnElement[Any]) -> sa.ScalarSelect[Any]:
    return (
        sa.select(sa.func.count())
        .select_from(favorites)
        .where(favorites.c.article_id == article_id)
        .scalar_subquery()
    )


def _user_id_named(username: str) -> sa.ScalarSelect[Any]:
    return sa.select(users.c.id).where(users.c.username == username).scalar_subquery()


def _conditions(query: ArticleQuery) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if query.tag is not None:
        conditions.append(
            articles.c.id.in_(
                sa.select(article_tags.c.article_id).where(article_tags.c.tag == query.tag)
            )
        )
    if query.author is not None:
        conditions.append(articles.c.author_id == _user_id_named(query.author))
    if query.favorited is not None:
        conditions.append(
            articles.c.id.in_(
                sa.select(favorites.c.article_id).where(
                    favorites.c.user_id == _user_id_named(query.favorited)
                )
            )
        )
    if query.followed_by is not None:
        conditions.append(
            articles.c.author_id.in_(
                sa.select(follows.c.followee_id).where(
                    follows.c.follower_id == query.followed_by.value
                )
            )
        )
    return conditions


def _article_view(row: sa.RowMapping, *, body: str | None) -> ArticleView:
    return ArticleView(
        slug=row["slug"],
        title=row["title"],
        description=row["description"],
        body=body,
        tags=tuple(row["tags"] or ()),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        favorited=bool(row["favorited"]),
        favorites_count=int(row["favorites_count"]),
        author=ProfileView(
            username=row["username"],
            bio=row["bio"],
            image=row["image"],
            following=bool(row["following"]),
        ),
    )


class SqlArticleReader:
    """The `ArticleReader` port on PostgreSQL.

    A page is one statement: the inner query filters, orders, pages and counts every match
    with a window function; the outer one joins the authors and adds, for the page's rows
    only, the tags, the favorite count and the viewer's follow and favorite flags. Only a
    page that comes back empty past the first row needs a second statement, for the total.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def by_slug(self, slug: str, *, viewer: UserId | None) -> ArticleView | None:
        """One statement: the article, its author and the viewer's flags."""
        statement = (
            sa.select(
                articles.c.slug,
                articles.c.title,
                articles.c.description,
                articles.c.body,
                articles.c.created_at,
                articles.c.updated_at,
                users.c.username,
                users.c.bio,
                users.c.image,
                tag_names(articles.c.id).label("tags"),
                _favorites_count(articles.c.id).label("favorites_count"),
                _favorited(articles.c.id, viewer).label("favorited"),
                _following(articles.c.author_id, viewer).label("following"),
            )
            .select_from(articles.join(users, users.c.id == articles.c.author_id))
            .where(articles.c.slug == slug)
        )
        row = (await self._connection.execute(statement)).mappings().first()
        return _article_view(row, body=row["body"]) if row else None

    async def page(self, query: ArticleQuery, *, viewer: UserId | None) -> ArticlePage:
        """The page and the total, in one statement unless the page is empty."""
        conditions = _conditions(query)
        matches = (
            sa.select(
                articles.c.id,
                articles.c.author_id,
                articles.c.slug,
                articles.c.title,
                articles.c.description,
                articles.c.created_at,
                articles.c.updated_at,
                sa.func.count().over().label("total"),
            )
            .where(*conditions)
            .order_by(articles.c.created_at.desc(), articles.c.id.desc())
            .limit(query.limit)
            .offset(query.offset)
            .subquery("page")
        )
        statement = (
            sa.select(
                matches.c.slug,
                matches.c.title,
                matches.c.description,
                matches.c.created_at,
                matches.c.updated_at,
                matches.c.total,
                users.c.username,
                users.c.bio,
                users.c.image,
                tag_names(matches.c.id).label("tags"),
                _favorites_count(matches.c.id).label("favorites_count"),
                _favorited(matches.c.id, viewer).label("favorited"),
                _following(matches.c.author_id, viewer).label("following"),
            )
            .select_from(matches.join(users, users.c.id == matches.c.author_id))
            .order_by(matches.c.created_at.desc(), matches.c.id.desc())
        )
        rows = (await self._connection.execute(statement)).mappings().all()
        if rows:
            total = int(rows[0]["total"])
        elif query.offset == 0 and query.limit > 0:
            total = 0
        else:
            count = sa.select(sa.func.count()).select_from(articles).where(*conditions)
            total = int(await self._connection.scalar(count) or 0)
        return ArticlePage(articles=[_article_view(row, body=None) for row in rows], total=total)

    async def tags(self) -> Sequence[str]:
        """Distinct tags by use, from the (tag, article_id) index."""
        statement = (
            sa.select(article_tags.c.tag)
            .group_by(article_tags.c.tag)
            .order_by(sa.func.count().desc(), article_tags.c.tag)
        )
        return list((await self._connection.scalars(statement)).all())


class SqlCommentReader:
    """The `CommentReader` port on PostgreSQL: the article and its page of comments at once."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def for_article(
        self, slug: str, *, viewer: UserId | None, limit: int, offset: int
    ) -> Sequence[CommentView] | None:
        """One statement: a lateral page of comments, outer-joined to the article by slug."""
        page = (
            sa.select(comments)
            .where(comments.c.article_id == articles.c.id)
            .order_by(comments.c.created_at.desc(), comments.c.id.desc())
            .limit(limit)
            .offset(offset)
            .lateral("page")
        )
        statement = (
            sa.select(
                page.c.id,
                page.c.body,
                page.c.created_at,
                page.c.updated_at,
                users.c.username,
                users.c.bio,
                users.c.image,
                _following(page.c.author_id, viewer).label("following"),
            )
            .select_from(
                articles.outerjoin(page, sa.true()).outerjoin(users, users.c.id == page.c.author_id)
            )
            .where(articles.c.slug == slug)
            .order_by(page.c.created_at.desc(), page.c.id.desc())
        )
        rows = (await self._connection.execute(statement)).mappings().all()
        if not rows:
            return None
        return [
            CommentView(
                id=row["id"],
                body=row["body"],
                created_at=row["created_at"],
                updated_at=row["updated_at"],
                author=ProfileView(
                    username=row["username"],
                    bio=row["bio"],
                    image=row["image"],
                    following=bool(row["following"]),
                ),
            )
            for row in rows
            if row["id"] is not None
        ]
