"""Events raised by the Article and Comment aggregates."""

from dataclasses import dataclass
from typing import ClassVar

from domain.shared.events import DomainEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticleEvent(DomainEvent):
    """An event about one article; `aggregate_id` is the article's id."""

    aggregate_type: ClassVar[str] = "article"


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticlePublished(ArticleEvent):
    """A new article is readable by everyone."""

    event_type: ClassVar[str] = "article.published"
    author_id: str
    slug: str
    title: str
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticleUpdated(ArticleEvent):
    """The author edited the article; `changed` lists which of title, description, body, tags."""

    event_type: ClassVar[str] = "article.updated"
    author_id: str
    changed: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticleDeleted(ArticleEvent):
    """The article, its comments and its favorites are gone; `deleted_by` says who did it."""

    event_type: ClassVar[str] = "article.deleted"
    author_id: str
    slug: str
    deleted_by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticleFavorited(ArticleEvent):
    """`user_id` marked the article as a favorite."""

    event_type: ClassVar[str] = "article.favorited"
    author_id: str
    user_id: str
    slug: str = ""
    title: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticleUnfavorited(ArticleEvent):
    """`user_id` took the article out of their favorites."""

    event_type: ClassVar[str] = "article.unfavorited"
    author_id: str
    user_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CommentEvent(DomainEvent):
    """An event about one comment; `aggregate_id` is the comment's id."""

    aggregate_type: ClassVar[str] = "comment"


@dataclass(frozen=True, slots=True, kw_only=True)
class CommentAdded(CommentEvent):
    """`author_id` commented on the article `article_id`, written by `article_author_id`."""

    event_type: ClassVar[str] = "comment.added"
    article_id: str
    article_author_id: str
    author_id: str
    article_slug: str = ""
    article_title: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CommentDeleted(CommentEvent):
    """The comment is gone; `deleted_by` is its author or a moderator."""

    event_type: ClassVar[str] = "comment.deleted"
    article_id: str
    author_id: str
    deleted_by: str
