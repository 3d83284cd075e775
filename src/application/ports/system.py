"""Time and identity, behind ports so that tests are deterministic."""

from datetime import datetime
from typing import Protocol
from uuid import UUID


class Clock(Protocol):
    """Tells the current time."""

    def now(self) -> datetime:
        """Return the current instant as a timezone-aware UTC datetime."""
        ...


class IdGenerator(Protocol):
    """Makes new unique identifiers."""

    def new_id(self) -> UUID:
        """Return an identifier never returned before; later ids sort after earlier ones."""
        ...
