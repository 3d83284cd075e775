"""Value objects of the articles context; each checks itself when it is made."""

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Self
from uuid import UUID

from domain.shared.errors import DomainError
from domain.users.values import BLANK, has_control_characters

TITLE_MAX = 200
DESCRIPTION_MAX = 1_000
BODY_MAX = 65_536
COMMENT_MAX = 10_000
TAG_MAX = 64
TAGS_PER_ARTICLE_MAX = 20
SLUG_BASE_MAX = 96
COMMENT_ID_LIMIT = 1 << 63
SLUG_MAX = 128
_SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class ArticleId:
    """An article's identity; never reused, never shown (clients use the slug)."""

    value: UUID

    def __str__(self) -> str:
        return str(self.value)


@dataclass(frozen=True, slots=True)
class CommentId:
    """A comment's identity: a positive integer, as the RealWorld API shows it."""

    value: int

    def __post_init__(self) -> None:
        if not self.could_exist(self.value):
            raise ValueError("comment ids are between 1 and 2**63 - 1")

    @staticmethod
    def could_exist(value: int) -> bool:
        """Whether some comment could have this id (a positive 64-bit integer)."""
        return 1 <= value < COMMENT_ID_LIMIT

    def __str__(self) -> str:
        return str(self.value)


def _text(value: str, *, field: str, maximum: int, multiline: bool) -> None:
    if not value.strip():
        raise DomainError(BLANK, field=field)
    if len(value) > maximum:
        raise DomainError(f"is too long (maximum is {maximum} characters)", field=field)
    if has_control_characters(value) or (not multiline and ("\n" in value or "\r" in value)):
        raise DomainError("may not contain control characters", field=field)


@dataclass(frozen=True, slots=True)
class Title:
    """One line of at most 200 characters."""

    value: str

    def __post_init__(self) -> None:
        _text(self.value, field="title", maximum=TITLE_MAX, multiline=False)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Description:
    """A summary of at most 1,000 characters, shown in lists."""

    value: str

    def __post_init__(self) -> None:
        _text(self.value, field="description", maximum=DESCRIPTION_MAX, multiline=True)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Body:
    """The article itself (Markdown, rendered by clients), at most BODY_MAX (65,536) characters."""

    value: str

    def __post_init__(self) -> None:
        _text(self.value, field="body", maximum=BODY_MAX, multiline=True)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class CommentBody:
    """What a comment says, at most 10,000 characters."""

    value: str

    def __post_init__(self) -> None:
        _text(self.value, field="body", maximum=COMMENT_MAX, multiline=True)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Tag:
    """A label of at most 64 characters, without control characters; trimmed, case kept."""

    value: str

    @classmethod
    def parse(cls, raw: str) -> Self:
        """Normalize (NFC, trim) and validate."""
        return cls(unicodedata.normalize("NFC", raw).strip())

    def __post_init__(self) -> None:
        if not self.value:
            raise DomainError("may not contain blank tags", field="tagList")
        if len(self.value) > TAG_MAX:
            raise DomainError(
                f"may not contain tags longer than {TAG_MAX} characters", field="tagList"
            )
        if has_control_characters(self.value) or not self.value.isprintable():
            raise DomainError("may not contain control characters", field="tagList")

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class TagList:
    """An article's tags: distinct, at most 20, in the order the author gave them."""

    tags: tuple[Tag, ...] = ()

    @classmethod
    def parse(cls, raw: Iterable[str]) -> Self:
        """Normalize each tag and drop repeats, keeping the first occurrence."""
        seen: dict[str, Tag] = {}
        for item in raw:
            tag = Tag.parse(item)
            seen.setdefault(tag.value, tag)
        return cls(tuple(seen.values()))

    def __post_init__(self) -> None:
        if len(self.tags) > TAGS_PER_ARTICLE_MAX:
            raise DomainError(
                f"is too long (maximum is {TAGS_PER_ARTICLE_MAX} tags)", field="tagList"
            )
        if len({tag.value for tag in self.tags}) != len(self.tags):
            raise DomainError("may not repeat a tag", field="tagList")

    @property
    def names(self) -> tuple[str, ...]:
        """The tags as plain strings, in order."""
        return tuple(tag.value for tag in self.tags)


@dataclass(frozen=True, slots=True)
class Slug:
    """The article's name in URLs: lower-case ASCII words joined by ``-``.

    A slug is made from the title once, when the article is published, and then kept, so
    links stay valid when the title is edited.
    """

    value: str

    @classmethod
    def from_title(cls, title: Title) -> Self:
        """Transliterate to ASCII where Unicode allows, and join the words with ``-``.

        A title with no ASCII letters or digits at all becomes ``article``; the caller makes
        it distinct with `disambiguated`.
        """
        ascii_text = (
            unicodedata.normalize("NFKD", title.value).encode("ascii", "ignore").decode("ascii")
        )
        words = _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")
        base = words[:SLUG_BASE_MAX].rstrip("-")
        return cls(base or "article")

    def disambiguated(self, article_id: ArticleId) -> Self:
        """Append a suffix unique to the article, for when the plain slug is taken."""
        return type(self)(f"{self.value}-{article_id.value.hex[-8:]}")

    def __post_init__(self) -> None:
        if len(self.value) > SLUG_MAX or not _SLUG_PATTERN.match(self.value):
            raise DomainError("is not a valid slug", field="slug")

    def __str__(self) -> str:
        return self.value

    @staticmethod
    def could_exist(text: str) -> bool:
        """Whether some article could have this slug; lookups skip the database if not."""
        return len(text) <= SLUG_MAX and _SLUG_PATTERN.match(text) is not None
