"""A marker for fields a caller left out of a partial update."""

from typing import Final


class Unchanged:
    """Marks a field the caller did not send, as opposed to one sent as null."""

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Final = Unchanged()
