"""Page sizes and offsets for lists, checked the same way everywhere."""

from dataclasses import dataclass
from typing import Self

from application.common.errors import InvalidInputError

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_OFFSET = 1_000_000


@dataclass(frozen=True, slots=True)
class PageRequest:
    """`limit` items after skipping `offset`.

    The limit is capped (OWASP API4: unrestricted resource consumption), so no request can
    ask the database for an unbounded page.
    """

    limit: int = DEFAULT_LIMIT
    offset: int = 0

    @classmethod
    def of(
        cls, *, limit: int | None, offset: int | None, default_limit: int = DEFAULT_LIMIT
    ) -> Self:
        """Apply the defaults to what the caller left out, then check."""
        return cls(default_limit if limit is None else limit, 0 if offset is None else offset)

    def __post_init__(self) -> None:
        if not 0 <= self.limit <= MAX_LIMIT:
            raise InvalidInputError(f"must be between 0 and {MAX_LIMIT}", field="limit")
        if not 0 <= self.offset <= MAX_OFFSET:
            raise InvalidInputError(f"must be between 0 and {MAX_OFFSET}", field="offset")
