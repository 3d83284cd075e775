"""Turns Litestar's and msgspec's decode messages into short, field-keyed client messages."""

import re

BLANK = "can't be blank"
_TYPE_WORDS = {
    "int": "an integer",
    "float": "a number",
    "str": "a string",
    "bool": "true or false",
    "object": "an object",
    "array": "an array",
    "null": "null",
}
# Parses msgspec's message wording: tests/unit/test_reliances_msgspec.py
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^Expected `str` of length >= (\d+)"), "is too short (minimum is {0} characters)"),
    (re.compile(r"^Expected `str` of length <= (\d+)"), "is too long (maximum is {0} characters)"),
    (re.compile(r"^Expected `(?:int|float)` >= (\S+)"), "must be at least {0}"),
    (re.compile(r"^Expected `(?:int|float)` <= (\S+)"), "must be at most {0}"),
    (re.compile(r"^Expected `str` matching regex"), "has an invalid format"),
    (re.compile(r"^Invalid enum value (.+)"), "is not one of the allowed values"),
)
_UNKNOWN_FIELD = re.compile(r"^Object contains unknown field `([^`]+)`")
_MISSING_FIELD = re.compile(r"^Object missing required field `([^`]+)`")
_WRONG_TYPE = re.compile(r"^Expected `([^`]+)`, got `([^`]+)`")
_NOT_JSON_HINTS = ("json is malformed", "truncated", "decode", "invalid json", "utf-8")
_OUT_OF_RANGE = re.compile(r"^Number out of range")


def is_malformed_json(message: str) -> bool:
    """Whether a 400 from the framework means the body was not JSON at all."""
    lowered = message.lower()
    return any(hint in lowered for hint in _NOT_JSON_HINTS)


def malformed_json_message(message: str) -> str:
    """What a client is told when its JSON cannot be decoded at all, from msgspec's message.

    A number beyond a double (``1e400``) is well-formed JSON that no decoder can hold; msgspec
    cannot say in which field, as it decodes into untyped values.
    """
    if _OUT_OF_RANGE.match(message):
        return "has a number out of range"
    return "is not valid JSON"


def field_error(key: str, message: str) -> tuple[str, str]:
    """Map one decode failure to the envelope key and a message a client can act on.

    The key is the last segment of the field's path (``user.email`` becomes ``email``), as
    the RealWorld error format expects; a failure of the body as a whole is keyed ``body``.
    """
    path = [part for part in re.split(r"[.\[\]]", key.removeprefix("$")) if part]
    if path and path[0] == "data":
        path = path[1:]
    if match := _UNKNOWN_FIELD.match(message):
        return match[1], "is not a known field"
    if match := _MISSING_FIELD.match(message):
        return match[1], BLANK
    field = path[-1] if path else "body"
    if message in {"'data'", "data"}:
        return "body", BLANK
    if match := _WRONG_TYPE.match(message):
        expected = " or ".join(_TYPE_WORDS.get(t.strip(), t.strip()) for t in match[1].split("|"))
        return field, f"must be {expected}"
    for pattern, template in _RULES:
        if match := pattern.match(message):
            return field, template.format(*match.groups())
    return field, message.strip().splitlines()[0][:200] if message.strip() else "is invalid"
