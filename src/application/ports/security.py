"""Security ports: password hashing and access tokens."""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.users.values import Password, Role, UserId


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


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimit:
    """At most `limit` events per `window_seconds` for one key, with bursts up to `limit`."""

    limit: int
    window_seconds: int

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window_seconds < 1:
            raise ValueError("a rate limit needs a positive limit and window")


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitDecision:
    """Whether an event may happen now; if not, how long until it may."""

    allowed: bool
    remaining: int
    retry_after_seconds: int


class RateLimiterUnavailableError(Exception):
    """The limiter's store cannot be reached; the caller decides to fail open or closed."""


class RateLimiter(Protocol):
    """Counts events per key within a rate (GCRA), atomically, across every process sharing it.

    Every method raises RateLimiterUnavailableError when the store is down.
    """

    async def acquire(self, key: str, rate: RateLimit) -> RateLimitDecision:
        """Count one event if the rate allows it now; when it does not, count nothing."""
        ...

    async def refund(self, key: str, rate: RateLimit) -> None:
        """Give back one event counted by `acquire`, as if it had not happened."""
        ...


class SecretTokens(Protocol):
    """Makes unguessable opaque tokens (refresh, verification, reset) and their stored form."""

    def new_token(self) -> str:
        """A fresh URL-safe token with at least 256 bits of entropy."""
        ...

    def fingerprint(self, token: str) -> str:
        """The one-way form stored in place of the token (a keyed hash, hex)."""
        ...

    def successor(self, token: str) -> str:
        """The token that replaces `token` when it is rotated: URL-safe, 256 bits.

        A keyed one-way function of `token`, under a key of its own: only this service can
        compute it, the same token always has the same successor, and knowing a token and
        its successor tells nothing about the key or about any other token's successor.
        """
        ...

    def new_code(self, digits: int) -> str:
        """A uniformly random code of `digits` decimal digits, for typing from an SMS."""
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
