"""The id port: new identifiers come in through it, so that tests are deterministic."""

from typing import Protocol
from uuid import UUID


class IdGenerator(Protocol):
    """Makes new unique identifiers."""

    def new_id(self) -> UUID:
        """Return an identifier never returned before; later ids sort after earlier ones."""
        ...
