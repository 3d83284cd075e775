"""Articles ports: the article and comment repositories, and the read side that lists them."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from application.profiles.ports import ProfileView
from domain.articles.article import Article
from domain.articles.comment import Comment
from domain.articles.values import ArticleId, CommentId
from domain.users.values import UserId


class ArticleRepository(Protocol):
    """Articles with their tags, and the favorite relation, inside the unit of work.

    `add` raises `SlugTakenError` when another article has the slug. The failed write does
    not spoil the transaction, so the caller may retry with another slug.
    """

    async def add(self, article: Article) -> None:
        """Store a new article and its tags."""
        ...

    async def save(self, article: Article) -> None:
        """Store the article's changed fields and tags."""
        ...

    async def get_by_slug(self, slug: str, *, for_update: bool = False) -> Article | None:
        """The article with exactly this slug, if any.

        `for_update` locks it until the transaction ends, and the article returned is as
        the last transaction to hold the lock left it. Lock whatever you will `save`:
        `save` writes every field back, so an edit made between the read and the write
        would otherwise be lost.
        """
        ...

    async def remove(self, article_id: ArticleId) -> bool:
        """Delete the article with its tags, comments and favorites; False if already gone."""
        ...

    async def add_favorite(self, user_id: UserId, article_id: ArticleId, *, at: datetime) -> bool:
        """Record that `user_id` favors the article; False if it already did."""
        ...

    async def remove_favorite(self, user_id: UserId, article_id: ArticleId) -> bool:
        """Forget that `user_id` favors the article; False if it did not."""
        ...


class CommentRepository(Protocol):
    """Comments, inside the unit of work. Ids come from the store, before the comment exists."""

    async def next_id(self) -> CommentId:
        """A fresh comment id, never handed out before."""
        ...

    async def add(self, comment: Comment) -> None:
        """Store a new comment."""
        ...

    async def get(self, comment_id: CommentId, article_id: ArticleId) -> Comment | None:
        """The comment with this id under this article, if any."""
        ...

    async def remove(self, comment_id: CommentId) -> bool:
        """Delete the comment; False if it was already gone."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticleView:
    """An article as the viewer sees it; `body` is None in lists, which leave it out."""

    slug: str
    title: str
    description: str
    body: str | None
    tags: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    favorited: bool
    favorites_count: int
    author: ProfileView


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticlePage:
    """One page of a list, and how many articles match in all."""

    articles: Sequence[ArticleView]
    total: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticleQuery:
    """Which articles to list, newest first; every filter given must hold.

    `author` and `favorited` are usernames; `followed_by` keeps the articles of the users
    that user follows (the feed).
    """

    tag: str | None = None
    author: str | None = None
    favorited: str | None = None
    followed_by: UserId | None = None
    limit: int
    offset: int


class ArticleReader(Protocol):
    """Reads articles for display, each request in a constant number of statements."""

    async def by_slug(self, slug: str, *, viewer: UserId | None) -> ArticleView | None:
        """The article with this slug, body included, as `viewer` sees it; None if none."""
        ...

    async def page(self, query: ArticleQuery, *, viewer: UserId | None) -> ArticlePage:
        """The page `query` asks for, newest first (ties broken by id), without bodies."""
        ...

    async def tags(self) -> Sequence[str]:
        """Every tag some article carries, most used first, then by name."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class CommentView:
    """A comment as the viewer sees it."""

    id: int
    body: str
    created_at: datetime
    updated_at: datetime
    author: ProfileView


class CommentReader(Protocol):
    """Reads the comments of one article for display."""

    async def for_article(
        self, slug: str, *, viewer: UserId | None, limit: int, offset: int
    ) -> Sequence[CommentView] | None:
        """The article's comments, newest first; None when no article has this slug."""
        ...
