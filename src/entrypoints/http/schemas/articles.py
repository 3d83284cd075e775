"""The RealWorld article, comment and tag objects, as they cross the wire."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from application.ports.content import ArticlePage, ArticleView, CommentView
from domain.articles.values import BODY_MAX, TAG_MAX
from entrypoints.http.schemas.users import Profile, Struct, Text

ArticleText = Annotated[str, Meta(max_length=BODY_MAX)]
TagText = Annotated[str, Meta(max_length=TAG_MAX * 4)]
TagNames = Annotated[list[TagText], Meta(max_length=100)]


class NewArticle(Struct):
    """Publication fields; `tagList` may be left out."""

    title: Text
    description: Text
    body: ArticleText
    tag_list: TagNames = msgspec.field(default_factory=list, name="tagList")


class NewArticleRequest(Struct):
    """``{"article": {...}}`` for POST /api/articles."""

    article: NewArticle


class UpdateArticle(Struct):
    """Changes to one's article; a field left out stays, and `tagList` may not be null."""

    title: Text | UnsetType = UNSET
    description: Text | UnsetType = UNSET
    body: ArticleText | UnsetType = UNSET
    tag_list: TagNames | UnsetType = msgspec.field(default=UNSET, name="tagList")


class UpdateArticleRequest(Struct):
    """``{"article": {...}}`` for PUT /api/articles/{slug}."""

    article: UpdateArticle


class NewComment(Struct):
    """What the comment says."""

    body: Text


class NewCommentRequest(Struct):
    """``{"comment": {...}}`` for POST /api/articles/{slug}/comments."""

    comment: NewComment


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


class Article(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel"):
    """An article as the caller sees it; lists leave `body` out."""

    slug: str
    title: str
    description: str
    body: str | UnsetType = UNSET
    tag_list: list[str]
    created_at: datetime
    updated_at: datetime
    favorited: bool
    favorites_count: int
    author: Profile

    @classmethod
    def of(cls, view: ArticleView) -> "Article":
        """Translate the read model; timestamps in UTC."""
        return cls(
            slug=view.slug,
            title=view.title,
            description=view.description,
            body=UNSET if view.body is None else view.body,
            tag_list=list(view.tags),
            created_at=_utc(view.created_at),
            updated_at=_utc(view.updated_at),
            favorited=view.favorited,
            favorites_count=view.favorites_count,
            author=Profile.of(view.author),
        )


class ArticleResponse(msgspec.Struct, kw_only=True):
    """``{"article": {...}}``."""

    article: Article


class ArticlesResponse(msgspec.Struct, kw_only=True, rename="camel"):
    """``{"articles": [...], "articlesCount": n}``; the count covers every match."""

    articles: list[Article]
    articles_count: int

    @classmethod
    def of(cls, page: ArticlePage) -> "ArticlesResponse":
        """Translate a page of read models."""
        return cls(articles=[Article.of(view) for view in page.articles], articles_count=page.total)


class Comment(msgspec.Struct, kw_only=True, rename="camel"):
    """A comment as the caller sees it."""

    id: int
    created_at: datetime
    updated_at: datetime
    body: str
    author: Profile

    @classmethod
    def of(cls, view: CommentView) -> "Comment":
        """Translate the read model; timestamps in UTC."""
        return cls(
            id=view.id,
            created_at=_utc(view.created_at),
            updated_at=_utc(view.updated_at),
            body=view.body,
            author=Profile.of(view.author),
        )


class CommentResponse(msgspec.Struct, kw_only=True):
    """``{"comment": {...}}``."""

    comment: Comment


class CommentsResponse(msgspec.Struct, kw_only=True):
    """``{"comments": [...]}``, newest first."""

    comments: list[Comment]

    @classmethod
    def of(cls, views: Sequence[CommentView]) -> "CommentsResponse":
        """Translate the read models."""
        return cls(comments=[Comment.of(view) for view in views])


class TagsResponse(msgspec.Struct, kw_only=True):
    """``{"tags": [...]}``, most used first."""

    tags: list[str]
