"""Persistence ports: the unit of work, and the outbox it writes events to."""

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from application.common.outbox import OutboxMessage
from domain.shared.aggregate import AggregateRoot
from domain.users.one_time_token import OneTimeToken, TokenPurpose
from domain.users.session import Session
from domain.users.user import User
from domain.users.values import Email, Role, UserId, Username


class UnitOfWork(Protocol):
    """One business transaction over every repository of a request.

    Contract:
    - ``async with uow:`` opens the transaction. Leaving the block without `commit`, or by
      an exception, rolls everything back.
    - `track` registers an aggregate changed in this transaction. At `commit`, the events
      each tracked aggregate raised are written to the outbox in the same transaction as
      the state change, so either both persist or neither does.
    - After `commit` the unit of work may be used again for a further transaction.
    """

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def track(self, aggregate: AggregateRoot) -> None:
        """Collect this aggregate's events when the transaction commits."""
        ...

    async def commit(self) -> Sequence[OutboxMessage]:
        """Persist every change and the collected events; return the events written."""
        ...

    def after_commit(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run `callback` once the outermost transaction has committed.

        This is how work outside the database (enqueueing a job) waits for the rows it
        refers to, even when the use case runs nested in an event handler's transaction.
        A rollback drops the callbacks. A failing callback is logged; it neither undoes
        the commit nor stops the callbacks after it.
        """
        ...

    async def rollback(self) -> None:
        """Discard every change made since the transaction began."""
        ...


class OutboxReader(Protocol):
    """Reads the outbox; the relay that publishes it arrives with the events issue."""

    async def pending(self, *, limit: int) -> Sequence[OutboxMessage]:
        """Return up to `limit` unsent messages, oldest first."""
        ...


class UserRepository(Protocol):
    """Users and the follow relation, inside the request's unit of work.

    `add` and `save` raise `UsernameTakenError` or `EmailTakenError` when another account
    already has the username (compared without case) or the email.
    """

    async def add(self, user: User) -> None:
        """Store a new user."""
        ...

    async def save(self, user: User) -> None:
        """Store the user's changed state."""
        ...

    async def get(self, user_id: UserId, *, for_update: bool = False) -> User | None:
        """The user with this id, if any; `for_update` locks it until the transaction ends.

        Lock whatever you will `save`: `save` writes every column back, so without the
        lock a concurrent change made between the read and the write would be lost.
        """
        ...

    async def get_by_email(self, email: Email) -> User | None:
        """The user with this (normalized) email, if any."""
        ...

    async def get_by_username(self, username: str, *, for_update: bool = False) -> User | None:
        """The user with exactly this username, if any; `for_update` as for `get`."""
        ...

    async def username_taken(self, username: Username) -> bool:
        """Whether any user has this username, ignoring case."""
        ...

    async def add_follow(self, follower: UserId, followee: UserId, *, at: datetime) -> bool:
        """Record that `follower` follows `followee`; False if it already did."""
        ...

    async def remove_follow(self, follower: UserId, followee: UserId) -> bool:
        """Forget that `follower` follows `followee`; False if it did not."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ProfileView:
    """A user as others see them, and whether the viewer follows them."""

    username: str
    bio: str | None
    image: str | None
    following: bool


class ProfileReader(Protocol):
    """Reads profiles in one query, for display."""

    async def by_username(self, username: str, *, viewer: UserId | None) -> ProfileView | None:
        """The profile with exactly this username, as `viewer` sees it; None if none."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class RefreshTokenMatch:
    """The session a presented refresh token belongs to; `reused` when it was already rotated.

    For a rotated token, `retired_at` is when it was rotated and `retired_by` who presented
    it then (the `by` given to `Session.rotate`, None if none was or before it was kept).
    """

    session: Session
    reused: bool
    retired_at: datetime | None = None
    retired_by: str | None = None


class SessionRepository(Protocol):
    """Sign-in sessions and the hashes of their refresh tokens."""

    async def add(self, session: Session) -> None:
        """Store a new session."""
        ...

    async def save(self, session: Session) -> None:
        """Store the session's changes, retiring the hashes it rotated away from."""
        ...

    async def get(self, session_id: UUID, *, for_update: bool = False) -> Session | None:
        """The session with this id, if any; `for_update` locks it until the transaction ends."""
        ...

    async def find_by_token_hash(self, token_hash: str) -> RefreshTokenMatch | None:
        """The session whose current or retired refresh token has this hash, if any.

        The session is locked until the transaction ends, and is read as it is once locked:
        a caller that waited for a racing rotation of this token sees it retired, with the
        time and client of that rotation.
        """
        ...

    async def list_for_user(self, user_id: UserId) -> Sequence[Session]:
        """Every session of the user, newest first."""
        ...

    async def revoke_all_for_user(self, user_id: UserId, *, at: datetime, reason: str) -> int:
        """Revoke every active session of the user; return how many were."""
        ...

    async def revoke_others(
        self, user_id: UserId, *, keep: UUID | None, at: datetime, reason: str
    ) -> int:
        """Revoke every active session of the user except `keep`; return how many were."""
        ...

    async def purge_ended(self, *, before: datetime) -> int:
        """Delete sessions that expired or were revoked before `before`; return how many."""
        ...

    async def live_role(self, session_id: UUID, user_id: UserId, *, now: datetime) -> Role | None:
        """The user's current role if the session still admits them, else None.

        It admits them when it is the user's, unrevoked and unexpired, and the user exists
        and is not banned. One indexed read, made on every authenticated request, so bans
        and role changes take effect at once.
        """
        ...


class OneTimeTokenRepository(Protocol):
    """Single-use tokens for email verification and password reset."""

    async def add(self, token: OneTimeToken) -> None:
        """Store a new token."""
        ...

    async def consume(
        self, token_hash: str, purpose: TokenPurpose, *, now: datetime
    ) -> OneTimeToken | None:
        """Mark the token used and return it, if it exists, has this purpose and is usable.

        At most one caller can consume a token, even when two race.
        """
        ...

    async def invalidate_all(
        self, user_id: UserId, purposes: Collection[TokenPurpose], *, now: datetime
    ) -> None:
        """Mark every unused token of this user with one of these purposes as used."""
        ...

    async def purge_ended(self, *, before: datetime) -> int:
        """Delete tokens that expired or were used before `before`; return how many."""
        ...
