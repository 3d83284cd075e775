"""What every settings section shares: its base class, and how a field names its variable."""

import functools
from typing import Annotated, Any

import msgspec
import msgspec.inspect
from msgspec import Meta


def from_env(name: str, doc: str, *, secret: bool = False, **constraints: Any) -> Meta:
    """Bind a field to an environment variable, with a description and constraints."""
    return Meta(description=doc, extra={"env": name, "secret": secret}, **constraints)


Port = Annotated[int, Meta(ge=1, le=65535)]
_MASKED = "'***'"


class Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One section of the settings: immutable once loaded, and an unknown field is an error.

    Its repr shows every field, with the value of each one declared ``secret=True`` as
    ``'***'``: a settings object printed, logged or shown in a traceback leaks no secret.

    Subclasses inherit `forbid_unknown_fields`. Each section still passes `frozen=True`, which
    mypy does not carry down, and `kw_only=True`, which msgspec applies only to the fields a
    class declares itself.
    """

    def __repr__(self) -> str:
        secret = _secret_fields(type(self))
        shown = [
            f"{name}={_MASKED if name in secret and value is not None else repr(value)}"
            for name, value in msgspec.structs.asdict(self).items()
        ]
        return f"{type(self).__name__}({', '.join(shown)})"


@functools.cache
def _secret_fields(section: type[Section]) -> frozenset[str]:
    """The fields of `section` whose variable is declared secret."""
    info = msgspec.inspect.type_info(section)
    assert isinstance(info, msgspec.inspect.StructType)  # noqa: S101 - a Section is a Struct
    return frozenset(
        field.name
        for field in info.fields
        if isinstance(field.type, msgspec.inspect.Metadata)
        and (field.type.extra or {}).get("secret")
    )
