"""Single-use, expiring tokens that prove control of an email address."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Self

from domain.users.values import UserId


class TokenPurpose(StrEnum):
    """What a one-time token may be used for; a token of one purpose never serves another."""

    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"  # noqa: S105 - a purpose name, not a password


@dataclass(slots=True, kw_only=True)
class OneTimeToken:
    """A token, held only as its fingerprint, for one user and one purpose."""

    token_hash: str
    user_id: UserId
    purpose: TokenPurpose
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None

    @classmethod
    def issue(
        cls,
        *,
        token_hash: str,
        user_id: UserId,
        purpose: TokenPurpose,
        now: datetime,
        ttl: timedelta,
    ) -> Self:
        """A fresh, unused token."""
        return cls(
            token_hash=token_hash,
            user_id=user_id,
            purpose=purpose,
            created_at=now,
            expires_at=now + ttl,
        )

    def usable(self, now: datetime) -> bool:
        """Unused and not expired."""
        return self.used_at is None and now < self.expires_at
