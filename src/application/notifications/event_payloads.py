"""The events the notification handlers react to, each read into a typed payload.

An event reaches a consumer as its envelope's header fields and a payload: the domain
event's own fields, as the outbox wrote them (`adapters/events/envelope.py`). Each class
here reads one event type into typed fields named as the payload names them, and the
aggregate's id into the field its `aggregate` names. Reading follows what events already
in the outbox carry: a field with a default was added after events were written without
it, and falls back to that default, while a field every version carried is required, and
its absence raises `KeyError`.
"""

from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from typing import Any, ClassVar, Self
from uuid import UUID

from application.events.received_event import ReceivedEvent
from domain.articles.events import ArticleFavorited, ArticlePublished, CommentAdded
from domain.users.events import PasswordChanged, UserFollowed, UserSignedIn
from domain.users.values import UserId

_READERS: dict[Any, Callable[[object], object]] = {
    str: str,
    UserId: lambda raw: UserId(UUID(str(raw))),
}
"""How a payload field of each type is read from its JSON value."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventPayload:
    """A received event's payload, typed: its fields are of the types `_READERS` reads."""

    event_type: ClassVar[str]
    aggregate: ClassVar[str]
    """The field that holds the aggregate's id, read from the envelope."""

    @classmethod
    def from_event(cls, event: ReceivedEvent) -> Self:
        """Read `event`, which must be of this class's `event_type`."""
        values: dict[str, object] = {}
        for item in fields(cls):
            if item.name == cls.aggregate:
                raw: object = event.aggregate_id
            elif item.default is MISSING:
                raw = event.payload[item.name]
            else:
                raw = event.payload.get(item.name, item.default)
            values[item.name] = _READERS[item.type](raw)
        return cls(**values)


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticleActivity:
    """Someone did something to an article: what a notification about it shows."""

    actor: UserId
    article_id: str
    title: str
    slug: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UserFollowedPayload(EventPayload):
    """`follower` started following `followee_id`."""

    event_type: ClassVar[str] = UserFollowed.event_type
    aggregate: ClassVar[str] = "follower"

    follower: UserId
    followee_id: UserId


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticlePublishedPayload(EventPayload):
    """`author_id` published the article `article_id`."""

    event_type: ClassVar[str] = ArticlePublished.event_type
    aggregate: ClassVar[str] = "article_id"

    article_id: str
    author_id: UserId
    title: str = ""
    slug: str = ""

    @property
    def activity(self) -> ArticleActivity:
        """The author, and the article they published."""
        return ArticleActivity(
            actor=self.author_id, article_id=self.article_id, title=self.title, slug=self.slug
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CommentAddedPayload(EventPayload):
    """`author_id` commented on the article `article_id`, written by `article_author_id`."""

    event_type: ClassVar[str] = CommentAdded.event_type
    aggregate: ClassVar[str] = "comment_id"

    comment_id: str
    article_id: str
    article_author_id: UserId
    author_id: UserId
    article_slug: str = ""
    article_title: str = ""

    @property
    def activity(self) -> ArticleActivity:
        """The comment's author, and the article they commented on."""
        return ArticleActivity(
            actor=self.author_id,
            article_id=self.article_id,
            title=self.article_title,
            slug=self.article_slug,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticleFavoritedPayload(EventPayload):
    """`user_id` made the article `article_id`, written by `author_id`, a favorite."""

    event_type: ClassVar[str] = ArticleFavorited.event_type
    aggregate: ClassVar[str] = "article_id"

    article_id: str
    author_id: UserId
    user_id: UserId
    slug: str = ""
    title: str = ""

    @property
    def activity(self) -> ArticleActivity:
        """Who made it a favorite, and the article."""
        return ArticleActivity(
            actor=self.user_id, article_id=self.article_id, title=self.title, slug=self.slug
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class UserSignedInPayload(EventPayload):
    """`user_id` opened the session `session_id` from `device` at `ip`."""

    event_type: ClassVar[str] = UserSignedIn.event_type
    aggregate: ClassVar[str] = "user_id"

    user_id: UserId
    session_id: str
    device: str = "unknown"
    ip: str = "unknown"


@dataclass(frozen=True, slots=True, kw_only=True)
class PasswordChangedPayload(EventPayload):
    """`user_id`'s password changed; the event carries nothing else."""

    event_type: ClassVar[str] = PasswordChanged.event_type
    aggregate: ClassVar[str] = "user_id"

    user_id: UserId
