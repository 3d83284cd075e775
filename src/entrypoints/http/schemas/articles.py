"""The RealWorld article, comment and tag objects, as they cross the wire."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from application.articles.ports import ArticlePage, ArticleView, CommentView
from domain.articles.values import (
    BODY_MAX,
    COMMENT_MAX,
    DESCRIPTION_MAX,
    TAG_MAX,
    TAGS_PER_ARTICLE_MAX,
    TITLE_MAX,
)
from entrypoints.http.schemas.constraints import (
    MULTILINE_TEXT,
    PRINTABLE_TEXT,
    SINGLE_LINE_TEXT,
    stated,
)
from entrypoints.http.schemas.users import Profile, RequestBody

_WRITTEN = "Not blank; no control characters but tab, newline and CR."
TitleText = Annotated[
    str,
    Meta(
        max_length=TITLE_MAX,
        extra_json_schema=stated(min_length=1, pattern=SINGLE_LINE_TEXT),
        description="One line, not blank, no control characters.",
    ),
]
DescriptionText = Annotated[
    str,
    Meta(
        max_length=DESCRIPTION_MAX,
        extra_json_schema=stated(min_length=1, pattern=MULTILINE_TEXT),
        description=_WRITTEN,
    ),
]
ArticleText = Annotated[
    str,
    Meta(
        max_length=BODY_MAX,
        extra_json_schema=stated(min_length=1, pattern=MULTILINE_TEXT),
        description=_WRITTEN,
    ),
]
CommentText = Annotated[
    str,
    Meta(
        max_length=COMMENT_MAX,
        extra_json_schema=stated(min_length=1, pattern=MULTILINE_TEXT),
        description=_WRITTEN,
    ),
]
TagText = Annotated[str, Meta(max_length=TAG_MAX * 4)]
"""Room for a tag before it is trimmed and normalized; the Tag value object has the rule."""
_STATED_TAG = {
    "type": "string",
    "minLength": 1,
    "maxLength": TAG_MAX,
    "pattern": PRINTABLE_TEXT,
    "description": f"Printable, not blank, at most {TAG_MAX} characters once trimmed.",
}
TagNames = Annotated[
    list[TagText],
    Meta(
        max_length=TAGS_PER_ARTICLE_MAX,
        extra_json_schema=stated(items=_STATED_TAG),
        description=f"At most {TAGS_PER_ARTICLE_MAX} tags; a repeat is dropped.",
    ),
]


class NewArticle(RequestBody):
    """Publication fields; `tagList` may be left out."""

    title: TitleText
    description: DescriptionText
    body: ArticleText
    tag_list: TagNames = msgspec.field(default_factory=list, name="tagList")


class NewArticleRequest(RequestBody):
    """``{"article": {...}}`` for POST /api/articles."""

    article: NewArticle


class UpdateArticle(RequestBody):
    """Changes to one's article; a field left out stays, and `tagList` may not be null."""

    title: TitleText | UnsetType = UNSET
    description: DescriptionText | UnsetType = UNSET
    body: ArticleText | UnsetType = UNSET
    tag_list: TagNames | UnsetType = msgspec.field(default=UNSET, name="tagList")


class UpdateArticleRequest(RequestBody):
    """``{"article": {...}}`` for PUT /api/articles/{slug}."""

    article: UpdateArticle


class NewComment(RequestBody):
    """What the comment says."""

    body: CommentText


class NewCommentRequest(RequestBody):
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
