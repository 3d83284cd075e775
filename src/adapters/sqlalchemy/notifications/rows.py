"""Reading enum values back from rows, leaving out those this version does not know."""

from collections.abc import Iterable
from enum import StrEnum
from typing import TypeVar

from domain.notifications.notification import Channel

_Enum = TypeVar("_Enum", bound=StrEnum)


def known(enum: type[_Enum], value: object) -> _Enum | None:
    """The member of `enum` with this value, or None for one another version wrote."""
    if not isinstance(value, str):
        return None
    try:
        return enum(value)
    except ValueError:
        return None


def known_channels(values: Iterable[object]) -> frozenset[Channel]:
    """The channels among `values` that this version knows."""
    return frozenset(c for c in (known(Channel, v) for v in values) if c is not None)
