"""The command of a templated-message job: recipient, template name and values."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Self

_CONTEXT = "ctx."


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplatedMessageCommand:
    """Whom to send to, with which template and values; each channel's job subclasses it.

    A task queue carries it flat: `to`, `template`, and each value under ``ctx.<name>``.
    """

    to: str
    template: str
    context: Mapping[str, str] = field(repr=False)

    def as_payload(self) -> dict[str, str]:
        """The flat payload a task queue carries."""
        values = {_CONTEXT + name: value for name, value in self.context.items()}
        return {"to": self.to, "template": self.template, **values}

    @classmethod
    def from_payload(cls, payload: Mapping[str, str]) -> Self:
        """Rebuild the command a worker received."""
        return cls(to=payload["to"], template=payload["template"], context=context_of(payload))


def context_of(payload: Mapping[str, str]) -> dict[str, str]:
    """The template values a flat payload carries under ``ctx.<name>``."""
    return {
        name.removeprefix(_CONTEXT): value
        for name, value in payload.items()
        if name.startswith(_CONTEXT)
    }
