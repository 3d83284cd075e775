"""A notification: one thing that happened, told to one user."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from uuid import UUID

from domain.users.values import UserId


class NotificationKind(StrEnum):
    """What happened; each kind has its templates and its default channels."""

    NEW_FOLLOWER = "new_follower"
    NEW_ARTICLE = "new_article"
    NEW_COMMENT = "new_comment"
    ARTICLE_FAVORITED = "article_favorited"
    NEW_LOGIN = "new_login"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - a kind, not a password


SECURITY_KINDS = frozenset({NotificationKind.NEW_LOGIN, NotificationKind.PASSWORD_CHANGED})
"""Kinds about the account's safety; their email cannot be switched off."""


class Channel(StrEnum):
    """Where a notification is delivered."""

    IN_APP = "in_app"
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"


@dataclass(frozen=True, slots=True, kw_only=True)
class Subject:
    """What a notification is about: an article, a comment, a user or a session."""

    type: str
    id: str


@dataclass(slots=True, kw_only=True)
class Notification:
    """One notification to one recipient.

    `source` names what caused it (the id of the event); a recipient gets at most one
    notification per source, which is what makes the consumers idempotent. `channels` are
    the channels the recipient's preferences chose when it was created; only those with
    `in_app` show in the recipient's list. `data` holds the display values the templates
    use, such as the actor's username or the article's title.
    """

    id: UUID
    recipient_id: UserId
    kind: NotificationKind
    actor_id: UserId | None
    subject: Subject
    source: str
    channels: frozenset[Channel]
    created_at: datetime
    data: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    read_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.created_at.tzinfo is None:
            raise ValueError("created_at must be timezone-aware")
        if not self.channels:
            raise ValueError("a notification goes to at least one channel")

    @property
    def is_read(self) -> bool:
        """Whether the recipient has marked it read."""
        return self.read_at is not None

    @property
    def in_app(self) -> bool:
        """Whether it shows in the recipient's list and live stream."""
        return Channel.IN_APP in self.channels

    def mark_read(self, *, at: datetime) -> bool:
        """Mark it read; False (and no change) if it already was."""
        if self.read_at is not None:
            return False
        self.read_at = at
        return True
