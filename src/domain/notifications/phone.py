"""A user's phone number, and the code that proves they hold it."""

import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.shared.errors import DomainError
from domain.users.values import UserId

E164_PATTERN = re.compile(r"^\+[1-9][0-9]{7,14}$")
"""A number in E.164 form once the separators a person types are removed."""
_SEPARATORS = re.compile(r"[\s().\-]")
CODE_ATTEMPTS = 5
"""Wrong codes allowed before the code is void and a new one must be requested."""


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    """A number in E.164 form: ``+``, a country code and up to 15 digits in all.

    Spaces, dots, dashes and parentheses a person types are removed first; nothing else is
    guessed, so a number without its country code is refused rather than misdialled.
    """

    value: str

    @classmethod
    def parse(cls, text: str) -> "PhoneNumber":
        """The number `text` spells, or a DomainError keyed ``phone``."""
        if not text.strip():
            raise DomainError("can't be blank", field="phone")
        compact = _SEPARATORS.sub("", text)
        if not E164_PATTERN.match(compact):
            raise DomainError(
                "must be in international format, such as +14155550100", field="phone"
            )
        return cls(compact)

    def masked(self) -> str:
        """The number with all but its last two digits hidden, for messages and logs."""
        return self.value[:2] + "*" * (len(self.value) - 4) + self.value[-2:]


class PhoneCodeError(DomainError):
    """The code is wrong, expired or used up; the message says which."""

    field = "code"


@dataclass(slots=True, kw_only=True)
class PhoneVerification:
    """The phone number a user gave, and whether they proved it is theirs.

    Only a verified number receives text messages. Setting a new number forgets the old
    one's verification. The code itself is never kept, only its hash.
    """

    user_id: UserId
    number: PhoneNumber
    code_hash: str | None
    code_expires_at: datetime | None
    attempts_left: int
    verified_at: datetime | None

    @classmethod
    def start(
        cls, user_id: UserId, number: PhoneNumber, *, code_hash: str, expires_at: datetime
    ) -> "PhoneVerification":
        """A new, unverified number with a code on its way."""
        return cls(
            user_id=user_id,
            number=number,
            code_hash=code_hash,
            code_expires_at=expires_at,
            attempts_left=CODE_ATTEMPTS,
            verified_at=None,
        )

    @property
    def is_verified(self) -> bool:
        """Whether text messages may go to this number."""
        return self.verified_at is not None

    def new_code(self, *, code_hash: str, expires_at: datetime) -> None:
        """Replace the pending code (a resend); a verified number needs none."""
        if self.is_verified:
            raise PhoneCodeError("is not needed: the number is already verified")
        self.code_hash = code_hash
        self.code_expires_at = expires_at
        self.attempts_left = CODE_ATTEMPTS

    def verify(self, presented_hash: str, *, now: datetime) -> None:
        """Accept the code whose hash is `presented_hash`, or count a wrong attempt."""
        if self.is_verified:
            return
        if self.code_hash is None or self.code_expires_at is None or self.attempts_left <= 0:
            raise PhoneCodeError("has expired; request a new one")
        if now >= self.code_expires_at:
            raise PhoneCodeError("has expired; request a new one")
        if not hmac.compare_digest(presented_hash, self.code_hash):
            self.attempts_left -= 1
            raise PhoneCodeError("is invalid")
        self.verified_at = now
        self.code_hash = None
        self.code_expires_at = None

    def expires_in(self, now: datetime) -> timedelta:
        """How long the pending code has left (zero if none)."""
        if self.code_expires_at is None:
            return timedelta(0)
        return max(self.code_expires_at - now, timedelta(0))
