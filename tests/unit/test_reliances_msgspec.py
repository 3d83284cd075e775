"""msgspec: the wording of the errors that Portico parses.

What each failure says, and what to do then: tests/support/reliance.py.
"""

from pathlib import Path
from typing import Annotated, Literal

import msgspec
import pytest
from msgspec import Meta

from entrypoints.config.errors import ConfigurationError
from entrypoints.config.loader import load_settings
from entrypoints.http.decode_errors import field_error, is_malformed_json, malformed_json_message
from tests.support.reliance import Reliance

# --- msgspec -------------------------------------------------------------------------------


class _Fields(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=2, max_length=4)]
    count: Annotated[int, Meta(ge=1, le=9)] = 1
    ratio: Annotated[float, Meta(ge=0.5, le=2.5)] = 1.0
    code: Annotated[str, Meta(pattern="^[a-z]+$")] = "a"
    color: Literal["red", "blue"] = "red"
    note: str | None = None


_DECODE_CASES: list[tuple[object, tuple[str, str]]] = [
    ({"name": "a"}, ("name", "is too short (minimum is 2 characters)")),
    ({"name": "abcde"}, ("name", "is too long (maximum is 4 characters)")),
    ({"name": "ab", "count": 0}, ("count", "must be at least 1")),
    ({"name": "ab", "count": 10}, ("count", "must be at most 9")),
    ({"name": "ab", "ratio": 0.1}, ("ratio", "must be at least 0.5")),
    ({"name": "ab", "ratio": 3.0}, ("ratio", "must be at most 2.5")),
    ({"name": "ab", "code": "A1"}, ("code", "has an invalid format")),
    ({"name": "ab", "color": "green"}, ("color", "is not one of the allowed values")),
    ({"name": "ab", "extra": 1}, ("extra", "is not a known field")),
    ({}, ("name", "can't be blank")),
    ({"name": 1}, ("name", "must be a string")),
    ({"name": "ab", "note": 5}, ("note", "must be a string or null")),
    ([], ("body", "must be an object")),
]


@pytest.mark.parametrize(("document", "expected"), _DECODE_CASES)
def test_msgspec_validation_messages_keep_the_wording_the_api_parses(
    document: object, expected: tuple[str, str]
) -> None:
    """The API turns msgspec's messages into field-keyed ones by matching their wording."""
    with Reliance("msgspec", where="entrypoints/http/decode_errors.py (field_error)") as ms:
        try:
            msgspec.json.decode(msgspec.json.encode(document), type=_Fields)
        except msgspec.ValidationError as exc:
            message = str(exc)
        else:
            ms.fail(f"decoding {document!r} no longer fails validation")
        reason, _, location = message.partition(" - at `$")
        key = location.rstrip("`").lstrip(".")
        ms.check(
            field_error(key, reason) == expected,
            f"the ValidationError for {document!r} now reads {message!r}, which Portico turns "
            f"into {field_error(key, reason)!r} instead of {expected!r}",
        )


@pytest.mark.parametrize("body", [b"{bad", b'{"user": {"email": "a"', b"\xff\xfe", b""])
def test_msgspec_decode_errors_keep_the_wording_that_marks_malformed_json(body: bytes) -> None:
    """A 400 is told apart from other 400s by the wording of msgspec's DecodeError."""
    with Reliance("msgspec", where="entrypoints/http/decode_errors.py (is_malformed_json)") as ms:
        try:
            msgspec.json.decode(body)
        except msgspec.DecodeError as exc:
            message = str(exc)
        else:
            ms.fail(f"msgspec.json.decode({body!r}) no longer fails")
        ms.check(
            is_malformed_json(message),
            f"msgspec.DecodeError for {body!r} now reads {message!r}, which no longer looks "
            "like malformed JSON to Portico",
        )


@pytest.mark.parametrize(
    ("body", "raised"),
    [
        (b'"\xff"', UnicodeDecodeError),
        (b'"\xed\xa0\x80"', UnicodeDecodeError),
        (b"[" * 100_000, RecursionError),
        (b'{"a": ' * 100_000, RecursionError),
    ],
)
def test_msgspec_raises_beside_decode_error_what_portico_translates(
    body: bytes, raised: type[Exception]
) -> None:
    """Invalid UTF-8 in a string and deep nesting are not `DecodeError`s."""
    with Reliance("msgspec", where="entrypoints/http/client_input.py (decode_json)") as ms:
        try:
            msgspec.json.decode(body)
        except raised:
            return
        except Exception as exc:  # noqa: BLE001 - the change to report
            ms.fail(f"decoding {body[:20]!r} now raises {type(exc).__name__}: {exc}")
        ms.fail(f"decoding {body[:20]!r} no longer fails")


def test_msgspec_words_a_number_beyond_a_double_as_out_of_range() -> None:
    with Reliance(
        "msgspec", where="entrypoints/http/decode_errors.py (malformed_json_message)"
    ) as ms:
        try:
            msgspec.json.decode(b'{"a": 1e400}')
        except msgspec.DecodeError as exc:
            message = str(exc)
        else:
            ms.fail("1e400 now decodes")
        ms.check(
            malformed_json_message(message) == "has a number out of range",
            f"an out-of-range number now reads {message!r}",
        )


@pytest.mark.parametrize(
    ("environment", "variable", "problem"),
    [
        ({"APP_PORT": "eighty"}, "APP_PORT", "expected an integer; got 'eighty'"),
        (
            {"JWT_ALGORITHM": "RS256"},
            "JWT_ALGORITHM",
            "expected one of HS256, HS384, HS512; got 'RS256'",
        ),
        ({"APP_PORT": "70000"}, "APP_PORT", "expected `int` <= 65535; got '70000'"),
    ],
)
def test_msgspec_convert_messages_name_the_setting_at_fault(
    environment: dict[str, str], variable: str, problem: str, tmp_path: Path
) -> None:
    """The loader finds the bad setting in the " - at `$.section.field`" end of the message."""
    with Reliance("msgspec", where="entrypoints/config/loader.py (_explain, _plain_reason)") as ms:
        try:
            load_settings(environment, env_file=tmp_path / "absent.env")
        except ConfigurationError as exc:
            found = (exc.variable, exc.problem)
        else:
            ms.fail(f"{environment!r} was accepted")
        ms.check(
            found == (variable, problem),
            f"msgspec.convert's ValidationError for {environment!r} now becomes {found!r} "
            f"instead of {(variable, problem)!r}",
        )
