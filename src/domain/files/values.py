"""Value objects of the files context; each checks itself when it is made."""

import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import Self
from uuid import UUID

from domain.shared.errors import DomainError
from domain.users.values import BLANK, has_control_characters

FILE_NAME_MAX_BYTES = 255
"""The longest original name kept, in UTF-8 bytes: what most file systems allow."""
SHA256_HEX_LENGTH = 64
_UNSHOWN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
"""Unicode categories a name may not hold: controls, formats, surrogates, private use,
unassigned code points, and line or paragraph separators (which would break a header).
Spaces of every script (U+00A0, U+3000) are fine."""


@dataclass(frozen=True, slots=True)
class FileId:
    """A stored file's identity; never reused. Storage keys derive from it, never from input."""

    value: UUID

    def __str__(self) -> str:
        return str(self.value)


class FilePurpose(StrEnum):
    """What a file is for, which decides its allowed types, its size limit and its readers."""

    AVATAR = "avatar"
    ARTICLE_IMAGE = "article_image"
    ATTACHMENT = "attachment"


class FileStatus(StrEnum):
    """Where a file is in its life.

    ``pending``: a direct upload was started and not completed. ``ready``: the bytes are
    stored and checked. ``rejected``: a completed direct upload failed its checks.
    ``deleted``: removed by its owner or a moderator. Only ``ready`` files are served.
    """

    PENDING = "pending"
    READY = "ready"
    REJECTED = "rejected"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class FileName:
    """The name a file was uploaded under, NFC-normalized and trimmed; only ever displayed.

    It never names anything in storage. Still, it is refused rather than repaired when it
    holds a path separator, a control or format character (NUL, a direction override that
    makes ``cod.exe`` read as ``exe.doc``), or is ``.`` or ``..``: a client that sends
    such a name is confused or hostile, and a silently changed name would surprise both.
    """

    value: str

    @classmethod
    def parse(cls, raw: str) -> Self:
        """Normalize and validate a client's name."""
        return cls(unicodedata.normalize("NFC", raw).strip())

    def __post_init__(self) -> None:
        if not self.value:
            raise DomainError(BLANK, field="name")
        if len(self.value.encode(errors="surrogatepass")) > FILE_NAME_MAX_BYTES:
            raise DomainError(
                f"is too long (maximum is {FILE_NAME_MAX_BYTES} bytes of UTF-8)", field="name"
            )
        if "/" in self.value or "\\" in self.value or self.value in {".", ".."}:
            raise DomainError("may not contain a path", field="name")
        if has_control_characters(self.value) or any(
            unicodedata.category(char) in _UNSHOWN_CATEGORIES for char in self.value
        ):
            raise DomainError("may not contain control or format characters", field="name")

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Sha256Digest:
    """A SHA-256 digest as 64 lower-case hexadecimal digits."""

    value: str

    @classmethod
    def parse(cls, raw: str) -> Self:
        """Accept either case from a client; keep lower case."""
        return cls(raw.strip().lower())

    def __post_init__(self) -> None:
        if len(self.value) != SHA256_HEX_LENGTH or not all(
            char in "0123456789abcdef" for char in self.value
        ):
            raise DomainError("must be 64 hexadecimal digits", field="sha256")

    def __str__(self) -> str:
        return self.value
