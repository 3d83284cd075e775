"""Single-use, expiring tokens that prove control of an email address."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Self

from domain.users.values import Email, UserId


class TokenPurpose(StrEnum):
    """What a one-time token may be used for; a token of one purpose never serves another."""

    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"  # noqa: S105 - a purpose name, not a password
    RESTORE_EMAIL = "restore_email"


LINKS_VOIDED_BY_ACCOUNT_CHANGES = (TokenPurpose.VERIFY_EMAIL, TokenPurpose.RESET_PASSWORD)
"""What an email change, a password change, a reset or signing out everywhere voids.

Restore links are not among them: they exist to undo an email change, so the change they
undo must not void them.
"""


@dataclass(slots=True, kw_only=True)
class OneTimeToken:
    """A token, held only as its fingerprint, for one user, one purpose and one address.

    `email` is the address the token was mailed to: the token proves control of that
    address and nothing else. Tokens issued before addresses were bound have none, and
    prove no address.
    """

    token_hash: str
    user_id: UserId
    purpose: TokenPurpose
    created_at: datetime
    expires_at: datetime
    email: Email | None = None
    used_at: datetime | None = None

    @classmethod
    def issue(
        cls,
        *,
        token_hash: str,
        user_id: UserId,
        purpose: TokenPurpose,
        email: Email,
        now: datetime,
        ttl: timedelta,
    ) -> Self:
        """A fresh, unused token for the link mailed to `email`."""
        return cls(
            token_hash=token_hash,
            user_id=user_id,
            purpose=purpose,
            email=email,
            created_at=now,
            expires_at=now + ttl,
        )

    def usable(self, now: datetime) -> bool:
        """Unused and not expired."""
        return self.used_at is None and now < self.expires_at

    def proves(self, email: Email) -> bool:
        """Whether using this token proves control of `email`: it was mailed there."""
        return self.email is not None and self.email == email
