"""The articles read side in PostgreSQL: every request is one statement.

These reads serve most of the API's traffic, so their statements are compiled once per
variant and run as driver SQL (see `precompiled`); rows are read by position.

The size of a page of all articles is written into its statement, and so is its offset
when it is the first page. PostgreSQL prices a plan with a parameter for LIMIT or OFFSET as
if it returned a tenth of the table, so its reusable (generic) plan looked costlier than
planning afresh, and it planned every execution again: 40% of what the first page cost
it. The sizes are few (at most `MAX_LIMIT` + 1), so the variants stay few. Filtered
pages keep both as parameters: with its size written in, the feed's reused plan served
a fifth fewer requests than planning each one.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.sqlalchemy.articles import tag_names
from adapters.sqlalchemy.precompiled import PrecompiledStatements, fetch_all
from adapters.sqlalchemy.tables import article_tags, articles, comments, favorites, follows, users
from application.articles.pagination import MAX_LIMIT
from application.articles.ports import (
    ArticlePage,
    ArticleQuery,
    ArticleReader,
    ArticleView,
    CommentReader,
    CommentView,
)
from application.profiles.ports import ProfileView
from domain.users.values import UserId

_VIEWER = sa.bindparam("viewer", type_=sa.Uuid)


def _paged(
    statement: sa.Select[Any], *, limit: int | None = None, first_page: bool = False
) -> sa.Select[Any]:
    """`statement` with its size written in, and its offset too on the first page.

    Without a size, both are parameters.
    """
    if limit is None:
        return statement.limit(sa.bindparam("limit", type_=sa.Integer)).offset(
            sa.bindparam("offset", type_=sa.Integer)
        )
    if not 0 <= limit <= MAX_LIMIT:
        raise ValueError(f"a page holds 0 to {MAX_LIMIT} rows, not {limit}")
    paged = statement.limit(sa.literal_column(str(int(limit))))
    return paged if first_page else paged.offset(sa.bindparam("offset", type_=sa.Integer))


def _following(author_id: sa.ColumnElement[Any], *, signed_in: bool) -> sa.ColumnElement[bool]:
    if not signed_in:
        return sa.false()
    return sa.exists().where(follows.c.follower_id == _VIEWER, follows.c.followee_id == author_id)


def _favorited(article_id: sa.ColumnElement[Any], *, signed_in: bool) -> sa.ColumnElement[bool]:
    if not signed_in:
        return sa.false()
    return sa.exists().where(favorites.c.user_id == _VIEWER, favorites.c.article_id == article_id)


def _favorites_count(article_id: sa.ColumnElement[Any]) -> sa.ScalarSelect[Any]:
    return (
        sa.select(sa.func.count())
        .select_from(favorites)
        .where(favorites.c.article_id == article_id)
        .scalar_subquery()
    )


def _user_id_named(parameter: str) -> sa.ScalarSelect[Any]:
    return (
        sa.select(users.c.id)
        .where(users.c.username == sa.bindparam(parameter, type_=sa.String))
        .scalar_subquery()
    )


def _conditions(
    *, tag: bool, author: bool, favorited: bool, followed: bool
) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if tag:
        conditions.append(
            articles.c.id.in_(
                sa.select(article_tags.c.article_id).where(
                    article_tags.c.tag == sa.bindparam("tag", type_=sa.String)
                )
            )
        )
    if author:
        conditions.append(articles.c.author_id == _user_id_named("author"))
    if favorited:
        conditions.append(
            articles.c.id.in_(
                sa.select(favorites.c.article_id).where(
                    favorites.c.user_id == _user_id_named("favorited")
                )
            )
        )
    if followed:
        conditions.append(
            articles.c.author_id.in_(
                sa.select(follows.c.followee_id).where(
                    follows.c.follower_id == sa.bindparam("followed_by", type_=sa.Uuid)
                )
            )
        )
    return conditions


def _shown(
    source: sa.FromClause,
    *,
    signed_in: bool,
    body: sa.ColumnElement[Any],
) -> list[sa.ColumnElement[Any]]:
    """The columns of an article view, in the order `_article_view` reads them."""
    return [
        source.c.slug,
        source.c.title,
        source.c.description,
        body,
        source.c.created_at,
        source.c.updated_at,
        users.c.username,
        users.c.bio,
        users.c.image,
        tag_names(source.c.id),
        _favorites_count(source.c.id),
        _favorited(source.c.id, signed_in=signed_in),
        _following(source.c.author_id, signed_in=signed_in),
    ]


def _build_page(  # noqa: PLR0917 - `PrecompiledStatements` passes the variant by position
    tag: bool,  # noqa: FBT001 - part of the variant key
    author: bool,  # noqa: FBT001 - part of the variant key
    favorited: bool,  # noqa: FBT001 - part of the variant key
    followed: bool,  # noqa: FBT001 - part of the variant key
    signed_in: bool,  # noqa: FBT001 - part of the variant key
    limit: int | None,
    first_page: bool,  # noqa: FBT001 - part of the variant key
) -> sa.Select[Any]:
    conditions = _conditions(tag=tag, author=author, favorited=favorited, followed=followed)
    counted = (
        sa.select(sa.func.count().label("total"))
        .select_from(articles)
        .where(*conditions)
        .subquery("counted")
    )
    matches = _paged(
        sa.select(
            articles.c.id,
            articles.c.author_id,
            articles.c.slug,
            articles.c.title,
            articles.c.description,
            articles.c.created_at,
            articles.c.updated_at,
        )
        .where(*conditions)
        .order_by(articles.c.created_at.desc(), articles.c.id.desc()),
        limit=limit,
        first_page=first_page,
    ).subquery("page")
    return (
        sa.select(*_shown(matches, signed_in=signed_in, body=sa.null()), counted.c.total)
        .select_from(
            counted.outerjoin(matches, sa.true()).outerjoin(
                users, users.c.id == matches.c.author_id
            )
        )
        .order_by(matches.c.created_at.desc(), matches.c.id.desc())
    )


def _build_by_slug(signed_in: bool) -> sa.Select[Any]:  # noqa: FBT001 - the variant key
    return (
        sa.select(*_shown(articles, signed_in=signed_in, body=articles.c.body))
        .select_from(articles.join(users, users.c.id == articles.c.author_id))
        .where(articles.c.slug == sa.bindparam("slug", type_=sa.String))
    )


def _build_tags() -> sa.Select[Any]:
    return (
        sa.select(article_tags.c.tag)
        .group_by(article_tags.c.tag)
        .order_by(sa.func.count().desc(), article_tags.c.tag)
    )


def _build_comments(signed_in: bool) -> sa.Select[Any]:  # noqa: FBT001 - the variant key
    page = _paged(
        sa.select(comments)
        .where(comments.c.article_id == articles.c.id)
        .order_by(comments.c.created_at.desc(), comments.c.id.desc())
    ).lateral("page")
    return (
        sa.select(
            page.c.id,
            page.c.body,
            page.c.created_at,
            page.c.updated_at,
            users.c.username,
            users.c.bio,
            users.c.image,
            _following(page.c.author_id, signed_in=signed_in),
        )
        .select_from(
            articles.outerjoin(page, sa.true()).outerjoin(users, users.c.id == page.c.author_id)
        )
        .where(articles.c.slug == sa.bindparam("slug", type_=sa.String))
        .order_by(page.c.created_at.desc(), page.c.id.desc())
    )


_PAGE = PrecompiledStatements(_build_page)
_BY_SLUG = PrecompiledStatements(_build_by_slug)
_TAGS = PrecompiledStatements(_build_tags)
_COMMENTS = PrecompiledStatements(_build_comments)


def _article_view(row: Sequence[Any]) -> ArticleView:
    (
        slug,
        title,
        description,
        body,
        created_at,
        updated_at,
        username,
        bio,
        image,
        tags,
        favorites_count,
        favorited,
        following,
    ) = row[:13]
    return ArticleView(
        slug=slug,
        title=title,
        description=description,
        body=body,
        tags=tuple(tags or ()),
        created_at=created_at,
        updated_at=updated_at,
        favorited=bool(favorited),
        favorites_count=int(favorites_count),
        author=ProfileView(username=username, bio=bio, image=image, following=bool(following)),
    )


def _with_offset(parameters: dict[str, Any], offset: int) -> dict[str, Any]:
    if offset:
        parameters["offset"] = offset
    return parameters


def _with_viewer(parameters: dict[str, Any], viewer: UserId | None) -> dict[str, Any]:
    if viewer is not None:
        parameters["viewer"] = viewer.value
    return parameters


class SqlArticleReader(ArticleReader):
    """The `ArticleReader` port on PostgreSQL.

    A page is one statement. The count of every match (an index-only scan) is outer-joined
    to the page, which reads only the rows it shows; so an empty page is still one row, with
    the total. The outer query joins the authors and adds, for the page's rows only, the
    tags, the favorite count and the viewer's follow and favorite flags.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def by_slug(self, slug: str, *, viewer: UserId | None) -> ArticleView | None:
        """One statement: the article, its author and the viewer's flags."""
        rows = await fetch_all(
            self._connection,
            _BY_SLUG.sql(viewer is not None),
            _with_viewer({"slug": slug}, viewer),
        )
        return _article_view(rows[0]) if rows else None

    async def page(self, query: ArticleQuery, *, viewer: UserId | None) -> ArticlePage:
        """The page and the total, in one statement."""
        filters = {
            "tag": query.tag,
            "author": query.author,
            "favorited": query.favorited,
            "followed_by": query.followed_by.value if query.followed_by else None,
        }
        given = {name: value for name, value in filters.items() if value is not None}
        variant = tuple(value is not None for value in filters.values())
        if any(variant):
            size: tuple[int | None, bool] = (None, False)
            parameters = {**given, "limit": query.limit, "offset": query.offset}
        else:
            size = (query.limit, query.offset == 0)
            parameters = _with_offset(given, query.offset)
        rows = await fetch_all(
            self._connection,
            _PAGE.sql(*variant, viewer is not None, *size),
            _with_viewer(parameters, viewer),
        )
        return ArticlePage(
            articles=[_article_view(row) for row in rows if row[0] is not None],
            total=int(rows[0][13]),
        )

    async def tags(self) -> Sequence[str]:
        """Distinct tags by use, from the (tag, article_id) index."""
        return [row[0] for row in await fetch_all(self._connection, _TAGS.sql(), {})]


class SqlCommentReader(CommentReader):
    """The `CommentReader` port on PostgreSQL: the article and its page of comments at once."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def for_article(
        self, slug: str, *, viewer: UserId | None, limit: int, offset: int
    ) -> Sequence[CommentView] | None:
        """One statement: a lateral page of comments, outer-joined to the article by slug."""
        rows = await fetch_all(
            self._connection,
            _COMMENTS.sql(viewer is not None),
            _with_viewer({"slug": slug, "limit": limit, "offset": offset}, viewer),
        )
        if not rows:
            return None
        return [
            CommentView(
                id=comment_id,
                body=body,
                created_at=created_at,
                updated_at=updated_at,
                author=ProfileView(
                    username=username, bio=bio, image=image, following=bool(following)
                ),
            )
            for comment_id, body, created_at, updated_at, username, bio, image, following in rows
            if comment_id is not None
        ]
