"""The flat payload of a templated-message job: recipient, template name and values."""

from collections.abc import Mapping

_CONTEXT = "ctx."


def templated_payload(to: str, template: str, context: Mapping[str, str]) -> dict[str, str]:
    """What a task queue carries: `to`, `template` and each value under ``ctx.<name>``."""
    return {"to": to, "template": template, **{_CONTEXT + k: v for k, v in context.items()}}


def templated_parts(payload: Mapping[str, str]) -> tuple[str, str, dict[str, str]]:
    """The recipient, the template and the values of a payload `templated_payload` made."""
    context = {k.removeprefix(_CONTEXT): v for k, v in payload.items() if k.startswith(_CONTEXT)}
    return payload["to"], payload["template"], context
