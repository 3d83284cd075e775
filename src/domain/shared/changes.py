"""What an aggregate's change did to one field: its name, and its value before and after.

A value is kept only where it is safe to keep. A field whose name marks it as a secret
(`is_secret_field`) keeps its name and never its values, so no caller can leak a password,
a token or a code into a change by forgetting to redact it: redaction happens here, once.
Long text is cut to `MAX_VALUE_CHARS`, so a change never holds a whole article body.
"""

from dataclasses import dataclass
from typing import Self

ChangeValue = str | int | bool | None

REDACTED = "[redacted]"
MAX_VALUE_CHARS = 200
TRUNCATION_MARK = "…"
SECRET_NAME_PARTS = (
    "password",
    "token",
    "secret",
    "code",
    "key",
    "link",
    "endpoint",
    "credential",
    "otp",
    "hash",
    "auth",
)
"""A field whose name contains one of these holds, or leads to, a secret."""


def is_secret_field(name: str) -> bool:
    """Whether a field of this name may hold a secret, so its values are never kept."""
    lowered = name.lower()
    return any(part in lowered for part in SECRET_NAME_PARTS)


def _bounded(value: ChangeValue) -> ChangeValue:
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        return value[: MAX_VALUE_CHARS - len(TRUNCATION_MARK)] + TRUNCATION_MARK
    return value


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field's name, with its value before and after where the value is not secret."""

    name: str
    before: ChangeValue
    after: ChangeValue

    @classmethod
    def of(cls, name: str, before: ChangeValue, after: ChangeValue) -> Self:
        """The change, with secret values replaced by `REDACTED` and long text cut short."""
        if is_secret_field(name):
            return cls(name, REDACTED, REDACTED)
        return cls(name, _bounded(before), _bounded(after))
