"""What every settings section shares: its base class, and how a field names its variable."""

from typing import Annotated, Any

import msgspec
from msgspec import Meta


def from_env(name: str, doc: str, *, secret: bool = False, **constraints: Any) -> Meta:
    """Bind a field to an environment variable, with a description and constraints."""
    return Meta(description=doc, extra={"env": name, "secret": secret}, **constraints)


Port = Annotated[int, Meta(ge=1, le=65535)]


class Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One section of the settings: immutable once loaded, and an unknown field is an error.

    Subclasses inherit `forbid_unknown_fields`. Each section still passes `frozen=True`, which
    mypy does not carry down, and `kw_only=True`, which msgspec applies only to the fields a
    class declares itself.
    """
