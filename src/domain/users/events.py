"""Events raised by the User aggregate."""

from dataclasses import dataclass
from typing import ClassVar

from domain.shared.events import DomainEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class UserEvent(DomainEvent):
    """An event about one user; `aggregate_id` is the user's id."""

    aggregate_type: ClassVar[str] = "user"


@dataclass(frozen=True, slots=True, kw_only=True)
class UserRegistered(UserEvent):
    """A new account exists."""

    event_type: ClassVar[str] = "user.registered"
    username: str
    email: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UserProfileUpdated(UserEvent):
    """The username, email, bio or image changed; `changed` lists which."""

    event_type: ClassVar[str] = "user.profile_updated"
    changed: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PasswordChanged(UserEvent):
    """The password changed (never carried in the event)."""

    event_type: ClassVar[str] = "user.password_changed"


@dataclass(frozen=True, slots=True, kw_only=True)
class UserSignedIn(UserEvent):
    """The user signed in and opened session `session_id` from `device` at `ip`."""

    event_type: ClassVar[str] = "user.signed_in"
    session_id: str
    device: str
    ip: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UserFollowed(UserEvent):
    """`aggregate_id` started following `followee_id`."""

    event_type: ClassVar[str] = "user.followed"
    followee_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UserUnfollowed(UserEvent):
    """`aggregate_id` stopped following `followee_id`."""

    event_type: ClassVar[str] = "user.unfollowed"
    followee_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UserRoleChanged(UserEvent):
    """An operator changed the user's role."""

    event_type: ClassVar[str] = "user.role_changed"
    role: str
    previous: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UserBanned(UserEvent):
    """The user may no longer sign in."""

    event_type: ClassVar[str] = "user.banned"
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UserUnbanned(UserEvent):
    """The ban was lifted."""

    event_type: ClassVar[str] = "user.unbanned"


@dataclass(frozen=True, slots=True, kw_only=True)
class EmailVerified(UserEvent):
    """The user proved they own their email address."""

    event_type: ClassVar[str] = "user.email_verified"
