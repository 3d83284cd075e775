"""A sign-in session: one family of refresh tokens, rotated on every use."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Self
from uuid import UUID

from domain.shared.errors import DomainError
from domain.users.values import UserId


class SessionRevokedError(DomainError):
    """The session was revoked (logout, reuse detected, password reset) or has expired."""

    field = "token"
    message = "is invalid"


@dataclass(slots=True, kw_only=True)
class Session:
    """A device's sign-in. Only the hash of its current refresh token is kept.

    Rotation retires the current hash; presenting a retired one again means the token was
    stolen or replayed, and the whole session is revoked (OAuth 2.0 BCP, token families).
    """

    id: UUID
    user_id: UserId
    token_hash: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    device: str
    ip: str
    revoked_at: datetime | None = None
    revoked_reason: str | None = None
    retired_hashes: list[str] = field(default_factory=list)
    rotated_by: str | None = None
    """Who presented the token the last rotation retired (an opaque client fingerprint);
    stored with the retired hashes, not with the session."""

    @classmethod
    def open(
        cls,
        *,
        id: UUID,  # noqa: A002 - the session's identity
        user_id: UserId,
        token_hash: str,
        now: datetime,
        ttl: timedelta,
        device: str,
        ip: str,
    ) -> Self:
        """Start a session whose first refresh token has `token_hash`."""
        return cls(
            id=id,
            user_id=user_id,
            token_hash=token_hash,
            created_at=now,
            last_used_at=now,
            expires_at=now + ttl,
            device=device[:200],
            ip=ip[:64],
        )

    def is_active(self, now: datetime) -> bool:
        """Not revoked and not expired."""
        return self.revoked_at is None and now < self.expires_at

    def rotate(
        self,
        new_token_hash: str,
        *,
        now: datetime,
        ttl: timedelta,
        max_lifetime: timedelta,
        by: str | None = None,
    ) -> None:
        """Replace the refresh token; the old hash is retired, never to be rotated again.

        Each rotation extends the session by `ttl`, but never past `max_lifetime` after it
        opened: then the user must sign in again (ASVS 3.3.2). `by` names the client that
        presented the old token, so that a repeat of that very request can be told apart.
        """
        if not self.is_active(now):
            raise SessionRevokedError
        self.retired_hashes.append(self.token_hash)
        self.rotated_by = by
        self.token_hash = new_token_hash
        self.last_used_at = now
        self.expires_at = min(now + ttl, self.created_at + max_lifetime)

    def revoke(self, *, now: datetime, reason: str) -> bool:
        """End the session; False if it had already ended."""
        if self.revoked_at is not None:
            return False
        self.revoked_at = now
        self.revoked_reason = reason
        return True
