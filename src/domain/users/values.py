"""Value objects of the users context; each checks itself when it is made."""

import re
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Self
from uuid import UUID

from domain.shared.errors import DomainError

BLANK = "can't be blank"

USERNAME_MAX = 64
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
EMAIL_MAX = 254
EMAIL_LOCAL_MAX = 64
_EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
EMAIL_ATOM_ASCII = r"a-zA-Z0-9!#$%&'*+/=?^_`{|}~\-"
"""RFC 5322 ``atext``, as the inside of a character class: what the dot-separated atoms of
a local part are made of. Nothing else goes unquoted: a ``,``, ``(`` or ``<`` would make a
mail header read another address (``a,b@x.io`` is two recipients)."""
EMAIL_LABEL_ASCII = r"a-zA-Z0-9"
"""What a domain label starts and ends with; a hyphen may come between."""
_NON_ASCII = r"\u0080-\U0010ffff"


def dot_atom_address(atom: str, label: str, end: str = r"\Z") -> str:
    """The pattern of ``local@domain``, from the character classes given (their insides).

    A dot-atom local part of at most EMAIL_LOCAL_MAX characters, then a domain of two or
    more labels. `end` closes the pattern; Python's end of text by default.
    """
    atoms = f"[{atom}]+(?:\\.[{atom}]+)*"
    host_label = f"[{label}](?:[{label}-]*[{label}])?"
    return f"^(?![^@]{{{EMAIL_LOCAL_MAX + 1}}}){atoms}@{host_label}(?:\\.{host_label})+{end}"


_DELIVERABLE_EMAIL = re.compile(
    dot_atom_address(EMAIL_ATOM_ASCII + _NON_ASCII, EMAIL_LABEL_ASCII + _NON_ASCII)
)
"""RFC 5321's dot-atom mailbox on a host name, with the UTF-8 of RFC 6531 in both parts."""
PASSWORD_MIN = 8
PASSWORD_MAX = 256
BIO_MAX = 2000
IMAGE_URL_MAX = 2048


CONTROL_CHARACTER_RANGES: tuple[tuple[int, int], ...] = (
    (0x00, 0x08),
    (0x0B, 0x0C),
    (0x0E, 0x1F),
    (0x7F, 0x9F),
    (0xAD, 0xAD),
    (0x600, 0x605),
    (0x61C, 0x61C),
    (0x6DD, 0x6DD),
    (0x70F, 0x70F),
    (0x890, 0x891),
    (0x8E2, 0x8E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
)
"""The control and format characters (Unicode Cc and Cf) of Unicode 14 to 15.1, except tab,
newline and CR, as inclusive code point ranges.

NUL cannot be stored by PostgreSQL at all, and direction overrides (U+202E) make text display
as something it is not. The HTTP schema states the same ranges, so it cannot drift from the
check (tests/unit/test_schema_constraints.py also holds them to this Python's Unicode data).
"""


def character_class(ranges: tuple[tuple[int, int], ...], *, negated: bool = False) -> str:
    """A regular expression class of these code points, read alike by Python and ECMAScript.

    BMP code points are written as backslash-u escapes, the others literally: ECMAScript has
    no escape for them that Python also reads.
    """

    def spelled(code: int) -> str:
        return f"\\u{code:04x}" if code <= 0xFFFF else chr(code)

    parts = "".join(
        spelled(low) if low == high else f"{spelled(low)}-{spelled(high)}" for low, high in ranges
    )
    return f"[{'^' if negated else ''}{parts}]"


CONTROL_CHARACTERS = character_class(CONTROL_CHARACTER_RANGES)
_CONTROL_CHARACTER = re.compile(CONTROL_CHARACTERS)


def has_control_characters(text: str) -> bool:
    """Whether `text` holds one of the CONTROL_CHARACTER_RANGES."""
    return _CONTROL_CHARACTER.search(text) is not None


@dataclass(frozen=True, slots=True)
class UserId:
    """A user's identity; never reused."""

    value: UUID

    def __str__(self) -> str:
        return str(self.value)


@dataclass(frozen=True, slots=True)
class Username:
    """1 to 64 ASCII letters, digits, ``_``, ``.`` or ``-``, starting with a letter or digit.

    The set is closed on purpose: usernames appear in URLs and mentions, and letters that
    look alike across scripts would let one user pass for another. Uniqueness ignores case.
    """

    value: str

    def __post_init__(self) -> None:
        if not self.value.strip():
            raise DomainError(BLANK, field="username")
        if len(self.value) > USERNAME_MAX:
            raise DomainError(
                f"is too long (maximum is {USERNAME_MAX} characters)", field="username"
            )
        if not USERNAME_PATTERN.match(self.value):
            raise DomainError(
                "may only contain letters, digits, '_', '.' and '-', and must start with a "
                "letter or digit",
                field="username",
            )

    def __str__(self) -> str:
        return self.value

    @staticmethod
    def could_exist(text: str) -> bool:
        """Whether some account could have this username; lookups skip the database if not."""
        return len(text) <= USERNAME_MAX and USERNAME_PATTERN.match(text) is not None


@dataclass(frozen=True, slots=True)
class Email:
    """An email address, trimmed and lower-cased, so one mailbox is one account."""

    value: str

    @classmethod
    def parse(cls, raw: str) -> Self:
        """Normalize (NFC, trim, lower-case) and validate: an address to look an account up by.

        Accounts made before the deliverable rule may hold addresses it refuses, so signing
        in only asks for the shape of an address.
        """
        return cls(unicodedata.normalize("NFC", raw).strip().lower())

    @classmethod
    def parse_deliverable(cls, raw: str) -> Self:
        """`parse`, for an address mail is to be sent to: an account's new one, or a reset's.

        A dot-atom local part (no quoting, comments or domain literals) on a host name,
        which every mail header reads back as the same one address. An address an older
        account holds that fails this gets no reset mail: a header would send it elsewhere.
        """
        email = cls.parse(raw)
        if not _DELIVERABLE_EMAIL.match(email.value):
            raise DomainError("is invalid", field="email")
        return email

    def __post_init__(self) -> None:
        if not self.value:
            raise DomainError(BLANK, field="email")
        if len(self.value) > EMAIL_MAX:
            raise DomainError(f"is too long (maximum is {EMAIL_MAX} characters)", field="email")
        local, _, _ = self.value.partition("@")
        invalid = (
            not _EMAIL_PATTERN.match(self.value)
            or len(local) > EMAIL_LOCAL_MAX
            or not self.value.isprintable()
        )
        if invalid:
            raise DomainError("is invalid", field="email")

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Password:
    """A plain password on its way to the hasher; never printed.

    NIST SP 800-63B: at least 8 characters, at least 64 accepted (we take 256), no
    composition rules. The length is counted in characters after NFKC normalization.
    """

    value: str = field(repr=False)

    @classmethod
    def parse(cls, raw: str) -> Self:
        """Normalize (NFKC) and check the policy."""
        return cls(unicodedata.normalize("NFKC", raw))

    def __post_init__(self) -> None:
        if not self.value:
            raise DomainError(BLANK, field="password")
        if "\x00" in self.value:
            raise DomainError("may not contain NUL characters", field="password")
        if len(self.value) < PASSWORD_MIN:
            raise DomainError(
                f"is too short (minimum is {PASSWORD_MIN} characters)", field="password"
            )
        if len(self.value) > PASSWORD_MAX:
            raise DomainError(
                f"is too long (maximum is {PASSWORD_MAX} characters)", field="password"
            )

    def __repr__(self) -> str:
        return "Password(***)"


class TypedPassword(Password):
    """A password typed to prove who one is (sign-in, step-up), not to set one.

    It is normalized as at registration (NFKC), then checked against the hash only, never
    against the policy, so accounts made under an older policy can still prove theirs.
    """

    __slots__ = ()

    def __post_init__(self) -> None:
        """Accept anything; the hash decides."""


@dataclass(frozen=True, slots=True)
class Profile:
    """What a user says about themselves: both parts optional; empty means none."""

    bio: str | None = None
    image: str | None = None

    @classmethod
    def of(cls, *, bio: str | None, image: str | None) -> Self:
        """Build a profile, storing an empty or blank string as None."""
        return cls(
            bio=bio if bio and bio.strip() else None,
            image=image if image and image.strip() else None,
        )

    def __post_init__(self) -> None:
        if self.bio is not None and len(self.bio) > BIO_MAX:
            raise DomainError(f"is too long (maximum is {BIO_MAX} characters)", field="bio")
        if self.bio is not None and has_control_characters(self.bio):
            raise DomainError("may not contain control characters", field="bio")
        if self.image is not None:
            if len(self.image) > IMAGE_URL_MAX:
                raise DomainError(
                    f"is too long (maximum is {IMAGE_URL_MAX} characters)", field="image"
                )
            if not self.image.startswith(("https://", "http://")) or not self.image.isprintable():
                raise DomainError("must be an http(s) URL", field="image")


class Role(StrEnum):
    """What a user may do, beyond their own things."""

    USER = "user"
    MODERATOR = "moderator"
    ADMIN = "admin"
