"""Security ports: password hashing and access tokens."""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

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


class InvalidTokenError(Exception):
    """The token is malformed, expired, signed by someone else, or for someone else."""


class TokenIssuer(Protocol):
    """Issues and reads short-lived access tokens."""

    def issue_access_token(self, *, user_id: UserId, role: Role) -> str:
        """A signed token for this user, valid for the configured lifetime."""
        ...

    def read_access_token(self, token: str) -> AccessClaims:
        """The claims of a valid token; raises InvalidTokenError otherwise."""
        ...
