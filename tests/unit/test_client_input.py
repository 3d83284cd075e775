"""The edge's checks of client text (entrypoints/http/client_input.py), and what they rely on.

The end-to-end answers, against `portico serve`, are tests/e2e/test_hostile_inputs_payloads.py
and tests/e2e/test_hostile_inputs_transport.py; what msgspec and Litestar do that these checks
build on, tests/unit/test_reliances_msgspec.py and tests/unit/test_reliances_http_stack.py.
"""

import asyncio
from typing import Any

import pytest
from litestar import Litestar, Request, get
from litestar.routes import HTTPRoute

from entrypoints.http.client_input import (
    BOOLEAN_MESSAGE,
    INTEGER_MESSAGE,
    MAX_JSON_DEPTH,
    NUL_MESSAGE,
    ONCE_MESSAGE,
    MalformedInputError,
    NulCharacterError,
    ParameterError,
    check_percent_encoding,
    decode_json,
    nul_field,
    refuse_hostile_text,
)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"a": "\xff"}', "is not valid UTF-8"),
        (b'{"a": "\xc0\x80"}', "is not valid UTF-8"),
        (b'{"a": "\xed\xa0\x80"}', "is not valid UTF-8"),
        (b"[" * 500_000, "is nested too deeply"),
        (b'{"a": ' + b"[" * 5_000 + b"]" * 5_000 + b"}", "is nested too deeply"),
        (b'{"a": 1e400}', "has a number out of range"),
        (b'{"a": -1e400}', "has a number out of range"),
        (b'{"a": "x\x00"}', "is not valid JSON"),
        (b'{"a": ', "is not valid JSON"),
        (b"\xff\xfe", "is not valid JSON"),
    ],
)
def test_json_no_decoder_can_hold_is_malformed(raw: bytes, message: str) -> None:
    with pytest.raises(MalformedInputError) as refused:
        decode_json(raw)
    assert (refused.value.key, refused.value.message) == ("body", message)
    with pytest.raises(MalformedInputError) as refused:
        decode_json(raw, part="message")
    assert refused.value.key == "message"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"user": {"bio": "a\\u0000b"}}', "bio"),
        ('{"article": {"tagList": ["ok", ["deeper\\u0000"]]}}', "tagList"),
        ('{"preferences": {"kind\\u0000": {"email": true}}}', "preferences"),
        ('{"\\u0000": 1}', "body"),
        ('"\\u0000"', "body"),
        ('["\\u0000"]', "body"),
    ],
)
def test_nul_anywhere_in_json_is_charged_to_the_field_that_holds_it(raw: str, field: str) -> None:
    for text in (raw, raw.encode()):
        with pytest.raises(NulCharacterError) as refused:
            decode_json(text)
        assert (refused.value.field, refused.value.message) == (field, NUL_MESSAGE)


def test_json_without_nul_decodes_as_it_is_and_the_last_of_a_repeated_key_wins() -> None:
    assert decode_json(b'{"a": {"b": ["x", 1, 2.5, null, true]}}') == {
        "a": {"b": ["x", 1, 2.5, None, True]}
    }
    assert decode_json(b'{"bio": "first", "bio": "last"}') == {"bio": "last"}
    assert decode_json('{"path": "C:\\\\u0000"}') == {"path": "C:\\u0000"}
    assert decode_json(b'{"n": 1000000000000000000000000000000}') == {"n": 10**30}


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        (b'{"n": 1.0}', {"n": 1}),
        (b'{"n": 1e3}', {"n": 1000}),
        (b'{"n": -0.0}', {"n": 0}),
        (b'{"n": 1.5}', {"n": 1.5}),
        (b'{"n": 9007199254740992.0}', {"n": 9007199254740992}),
        (b'{"n": 1e300}', {"n": 1e300}),
    ],
)
def test_a_number_without_a_fraction_is_an_integer_as_json_schema_counts_it(
    raw: bytes, decoded: dict[str, float]
) -> None:
    value = decode_json(raw)
    assert value == decoded
    assert type(value["n"]) is type(decoded["n"])


def test_the_nul_walk_survives_nesting_deeper_than_the_interpreter_stack() -> None:
    value: Any = "\x00"
    for _ in range(100_000):
        value = {"inner": [value]}
    assert nul_field({"outer": value}) == "inner"
    assert nul_field({"outer": [[[]]], "n": 1, "ok": "text"}) is None


@pytest.mark.parametrize(
    "raw", [b"", b"tag=a&limit=20", b"tag=%E2%80%AE", b"q=a+b%20c", b"%2F%2e%2E", b"x=%00"]
)
def test_well_formed_percent_encoding_passes(raw: bytes) -> None:
    check_percent_encoding(raw, part="query")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"tag=%", "is not valid percent-encoding"),
        (b"tag=%f", "is not valid percent-encoding"),
        (b"tag=%zz", "is not valid percent-encoding"),
        (b"tag=%ff", "is not valid UTF-8"),
        (b"tag=%e2%82", "is not valid UTF-8"),
        (b"tag=%c0%80", "is not valid UTF-8"),
        (b"tag=%ed%a0%80", "is not valid UTF-8"),
        (b"tag=\xff", "is not valid UTF-8"),
    ],
)
def test_broken_percent_encoding_is_malformed(raw: bytes, message: str) -> None:
    with pytest.raises(MalformedInputError) as refused:
        check_percent_encoding(raw, part="query")
    assert (refused.value.key, refused.value.message) == ("query", message)


def test_nesting_is_bounded_by_one_stated_depth_on_every_python() -> None:
    """The decoder's own limit moves with the interpreter (5,000 levels decode on 3.13, not on
    3.11); MAX_JSON_DEPTH is the one every Python keeps, and text in strings is not nesting."""
    deepest = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert decode_json(b'{"a": ' + deepest[1:-1] + b"}") is not None
    assert decode_json(b'{"a": "' + b"[{" * 1_000 + b'"}') == {"a": "[{" * 1_000}
    with pytest.raises(MalformedInputError) as refused:
        decode_json(b'{"a": ' + deepest + b"}")
    assert (refused.value.key, refused.value.message) == ("body", "is nested too deeply")


@get("/articles", sync_to_thread=False)
def _listed(
    tag: str | None = None,
    limit: int | None = None,
    unread: bool = False,
    ids: list[str] | None = None,
) -> None:
    """A route with a text, an integer, a boolean and a repeatable query parameter."""


_ROUTE = next(
    handler
    for route in Litestar(route_handlers=[_listed]).routes
    if isinstance(route, HTTPRoute)
    for handler in route.route_handlers
)


def _refusal(query: str) -> ParameterError | None:
    scope: Any = {
        "type": "http",
        "method": "GET",
        "path": "/articles",
        "raw_path": b"/articles",
        "query_string": query.encode(),
        "headers": [],
        "state": {},
        "route_handler": _ROUTE,
    }
    try:
        asyncio.run(refuse_hostile_text(Request(scope)))
    except ParameterError as refused:
        return refused
    return None


def test_the_query_parameter_named_for_a_nul_is_the_first_the_client_wrote() -> None:
    names = [f"p{index}" for index in range(16)]
    for first in (names[0], names[-1], names[7]):
        ordered = [first, *(name for name in names if name != first)]
        refused = _refusal("&".join(f"{name}=%00" for name in ordered))
        assert isinstance(refused, NulCharacterError)
        assert refused.field == first


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("limit=1.0", "limit", INTEGER_MESSAGE),
        ("limit=1e1", "limit", INTEGER_MESSAGE),
        ("limit=+1", "limit", INTEGER_MESSAGE),
        ("unread=1", "unread", BOOLEAN_MESSAGE),
        ("unread=True", "unread", BOOLEAN_MESSAGE),
        ("tag=a&tag=b", "tag", ONCE_MESSAGE),
        ("limit=1&tag=a&limit=2", "limit", ONCE_MESSAGE),
    ],
)
def test_a_query_is_read_as_the_document_writes_it(query: str, field: str, message: str) -> None:
    refused = _refusal(query)
    assert refused is not None
    assert (refused.field, refused.message) == (field, message)


@pytest.mark.parametrize(
    "query",
    ["", "limit=20&tag=a&unread=true", "limit=-1&unread=false", "limit=", "ids=a&ids=b", "x=1&x=2"],
)
def test_a_query_the_document_allows_passes(query: str) -> None:
    assert _refusal(query) is None
