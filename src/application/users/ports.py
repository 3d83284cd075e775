"""Users ports: the stores of accounts, sessions and one-time tokens, and sign-in's secrets.

The secrets are the password hasher, the access-token issuer and device trust.
"""

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.users.one_time_token import OneTimeToken, TokenPurpose
from domain.users.session import Session
from domain.users.user import User
from domain.users.values import Email, Password, Role, UserId, Username


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
class RefreshTokenMatch:
    """The session a presented refresh token belongs to; `reused` when it was already rotated.

    For a rotated token, `retired_at` is when it was rotated and `retired_by` who presented
    it then (the `by` given to `Session.rotate`, None if none was or before it was kept).
    """

    session: Session
    reused: bool
    retired_at: datetime | None = None
    retired_by: str | None = None


@dataclass(frozen=True, slots=True)
class LiveCaller:
    """What a live session's user is now: their role and their username."""

    role: Role
    username: str


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

    async def live_caller(
        self, session_id: UUID, user_id: UserId, *, now: datetime
    ) -> LiveCaller | None:
        """The user's current role and username if the session still admits them, else None.

        It admits them when it is the user's, unrevoked and unexpired, and the user exists
        and is not banned. One indexed read, made on every authenticated request, so bans
        and role changes take effect at once, and the audit log names the user as they are
        called now.
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

    async def find_usable(
        self, token_hash: str, purpose: TokenPurpose, *, now: datetime
    ) -> OneTimeToken | None:
        """The token `consume` would take now, by the same conditions, left as it is.

        An unknown, wrong-purpose, used or expired token is None alike, by one lookup.
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


class PasswordHasher(Protocol):
    """Hashes passwords slowly, off the event loop.

    `verify` with no hash (the account does not exist) must take as long as a real check
    and return False, so that response times do not reveal which emails have accounts.
    """

    async def hash(self, password: Password) -> str:
        """Return a self-describing hash (algorithm and parameters included)."""
        ...

    async def verify(self, password_hash: str | None, password: Password) -> bool:
        """Whether `password` matches `password_hash`; False when the hash is None."""
        ...

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether the hash was made with weaker parameters than the current ones."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessClaims:
    """What a valid access token says."""

    user_id: UserId
    role: Role
    token_id: str
    expires_at: datetime
    session_id: UUID | None = None


class InvalidTokenError(Exception):
    """The token is malformed, expired, signed by someone else, or for someone else."""


class TokenIssuer(Protocol):
    """Issues and reads short-lived access tokens."""

    def issue_access_token(
        self,
        *,
        user_id: UserId,
        role: Role,
        session_id: UUID | None = None,
        issued_at: datetime | None = None,
        token_id: UUID | None = None,
    ) -> str:
        """A signed token for this user (and sign-in session), valid for the set lifetime.

        By default it is issued now with a fresh id. Given `issued_at` and `token_id`, it is
        a function of its arguments: the same arguments give the same token, byte for byte,
        and it expires the set lifetime after `issued_at`.
        """
        ...

    def read_access_token(self, token: str) -> AccessClaims:
        """The claims of a valid token; raises InvalidTokenError otherwise."""
        ...


class DeviceTrust(Protocol):
    """Device tokens (OWASP's device cookies): unforgeable proof that a client signed in before.

    A token is bound to one account, by its email as normalized, and names one device; it is
    issued on a successful sign-in and presented on the next, so that sign-in is limited
    per device and not by failures other clients caused. Checking one needs no storage.
    """

    def issue(self, account: str) -> str:
        """A new token for this account, valid for the set lifetime; cookie-safe text."""
        ...

    def device_of(self, token: str, account: str) -> str | None:
        """The device's id when `token` is a live token issued for `account`; else None.

        Any text may be passed: a forged, expired, malformed or foreign token is None.
        """
        ...
