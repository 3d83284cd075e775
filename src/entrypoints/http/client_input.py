"""The checks every piece of client text passes at the edge, before any route reads it.

- A JSON body, and a WebSocket message, is decoded by `decode_json` and nothing else. One
  that is not UTF-8, not JSON, nested deeper than MAX_JSON_DEPTH (or than the decoder's
  stack allows), or holding a number beyond a double is malformed (`MalformedInputError`,
  400).
- No text may carry NUL (U+0000): PostgreSQL refuses it in ``text``, and no field of this
  API has a use for it. The body, the path parameters and the query are checked here, in
  one pass each, rather than field by field (`NulCharacterError`, 422 naming the field).
- A path or query must be valid percent-encoding of UTF-8 (`MalformedInputError`, 400).
- A JSON object naming a key twice keeps the last value, as JavaScript's ``JSON.parse``
  and every other decoder Portico's clients are likely to use do.
- A body must be of its route's type exactly as JSON says it: ``"false"`` is not a
  boolean, nor ``"1"`` a number (`strictly_typed`, 422 naming the field). A number with no
  fractional part is an integer however it is written (``1.0``, ``1e3``), as JSON Schema
  has it. Litestar converts
  a route's parameters leniently, which the path and the query need, since they arrive as
  text; the body gets no such leeway, so it means what the OpenAPI document says it does.

The checks run after the guard, so a request the guard refuses (rate limit, token,
permission) is refused for that first, as for every other validation.
"""

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

import msgspec
from litestar import Request
from litestar.constants import RESERVED_KWARGS
from litestar.enums import ParamType
from litestar.exceptions import ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.params import ParameterKwarg

from entrypoints.http.decode_errors import malformed_json_message

MAX_JSON_DEPTH = 32
"""How deep arrays and objects may nest in a body or message. No request of this API goes
past 4; the decoder's own limit (a RecursionError) depends on the interpreter, so the one
every Python keeps is stated here."""
NUL = "\x00"
NUL_MESSAGE = "may not contain the NUL character"
_NUL_ESCAPE = b"\\u0000"
"""The only way a NUL can enter decoded JSON: the decoder refuses a raw control character."""
_NUL_ESCAPE_TEXT = _NUL_ESCAPE.decode()
_NUL_IN_TARGET = (b"%00", b"\x00")
_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
EXACT_INTEGER_LIMIT = 1 << 53
"""Past this, a double no longer holds every integer, so a written fraction is kept."""


def _number_with_a_point(text: str) -> float | int:
    """A JSON number written with a fraction or exponent: an integer if it has no fraction.

    JSON Schema counts ``1.0`` and ``1e3`` as integers, so a body's ``integer`` field takes
    them, as the OpenAPI document that describes it says.
    """
    number = float(text)
    if not math.isfinite(number):
        raise msgspec.DecodeError("Number out of range")
    return int(number) if number.is_integer() and abs(number) <= EXACT_INTEGER_LIMIT else number


_any_json = msgspec.json.Decoder(float_hook=_number_with_a_point)
_UNDECODED = object()
_BODY_PARAMETER = "data"
_FIELD_PATH = re.compile(r"`\$\.(.+)`$")


class MalformedInputError(Exception):
    """Input that is not what it claims to be; `key` names the part: body, path, query."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key} {message}")
        self.key = key
        self.message = message


class ParameterError(Exception):
    """A parameter the route could read, but not as its type says; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field} {message}")
        self.field = field
        self.message = message


class NulCharacterError(ParameterError):
    """A text value carries NUL; `field` names it as the error envelope does."""

    def __init__(self, field: str) -> None:
        super().__init__(field, NUL_MESSAGE)


ONCE_MESSAGE = "may be given only once"
INTEGER_MESSAGE = "must be an integer"
BOOLEAN_MESSAGE = "must be true or false"
_INTEGER_TEXT = re.compile(r"-?[0-9]+")
_PATH_PARAMETER = re.compile(r"\{(\w+)")
_BOOLEAN_TEXT = frozenset({"true", "false"})


@dataclass(frozen=True, slots=True)
class _QueryRules:
    """What the query of one route may hold, beyond what Litestar's conversion checks."""

    single: frozenset[str]
    integers: frozenset[str]
    booleans: frozenset[str]


@cache
def _query_rules(handler: HTTPRouteHandler) -> _QueryRules:
    """The route's query parameters by kind, read once from its signature.

    Litestar converts query text leniently (``1.0`` and ``1e1`` pass as the integer 1, and
    of a repeated key it reads one value), where the document promises an integer, a
    boolean, or one value; these rules make the answer keep that promise.
    """
    dependencies = handler.resolve_dependencies()
    in_path = {name for path in handler.paths for name in _PATH_PARAMETER.findall(path)}
    single: set[str] = set()
    integers: set[str] = set()
    booleans: set[str] = set()
    for name, parameter in handler.parsed_fn_signature.parameters.items():
        definition = parameter.kwarg_definition
        if name in RESERVED_KWARGS or name in dependencies or name in in_path:
            continue
        key = name
        if isinstance(definition, ParameterKwarg):
            if definition.param_type is not ParamType.QUERY:
                continue
            key = definition.name or name
        if parameter.is_non_string_sequence:
            continue
        single.add(key)
        kinds = {arm.annotation for arm in (parameter, *parameter.inner_types)}
        if int in kinds and bool not in kinds:
            integers.add(key)
        if bool in kinds:
            booleans.add(key)
    return _QueryRules(frozenset(single), frozenset(integers), frozenset(booleans))


@cache
def wire_names(handler: HTTPRouteHandler) -> Mapping[str, str]:
    """The route's parameters a client names otherwise than its handler, by the handler's name.

    ``actor_id`` is sent as ``actorId``: an error about it names what the client sent.
    """
    return {
        name: definition.name
        for name, parameter in handler.parsed_fn_signature.parameters.items()
        if isinstance(definition := parameter.kwarg_definition, ParameterKwarg)
        and definition.name
        and definition.name != name
    }


def _check_query(handler: HTTPRouteHandler, query: str) -> None:
    rules = _query_rules(handler)
    seen: set[str] = set()
    for key, value in parse_qsl(query, keep_blank_values=True):
        if NUL in key or NUL in value:
            raise NulCharacterError("query" if NUL in key else key)
        if key in rules.single:
            if key in seen:
                raise ParameterError(key, ONCE_MESSAGE)
            seen.add(key)
        if not value:
            continue
        if key in rules.integers and not _INTEGER_TEXT.fullmatch(value):
            raise ParameterError(key, INTEGER_MESSAGE)
        if key in rules.booleans and value not in _BOOLEAN_TEXT:
            raise ParameterError(key, BOOLEAN_MESSAGE)


def decode_json(raw: bytes | str, *, part: str = "body") -> Any:
    """Decode client JSON, or raise `MalformedInputError` or `NulCharacterError`.

    `part` names the whole (``body``, a WebSocket ``message``) in the errors. msgspec
    raises UnicodeDecodeError for invalid UTF-8 inside a string and RecursionError for deep
    nesting, besides its own DecodeError (tests/unit/test_reliances_msgspec.py).
    """
    try:
        value = _any_json.decode(raw)
    except UnicodeDecodeError:
        raise MalformedInputError(part, "is not valid UTF-8") from None
    except RecursionError:
        raise MalformedInputError(part, "is nested too deeply") from None
    except msgspec.DecodeError as exc:
        raise MalformedInputError(part, malformed_json_message(str(exc))) from None
    if _may_nest_deeper_than_allowed(raw) and _depth(value) > MAX_JSON_DEPTH:
        raise MalformedInputError(part, "is nested too deeply")
    may_hold_nul = _NUL_ESCAPE in raw if isinstance(raw, bytes) else _NUL_ESCAPE_TEXT in raw
    if may_hold_nul and (field := nul_field(value, name=part)) is not None:
        raise NulCharacterError(field)
    return value


def _may_nest_deeper_than_allowed(raw: bytes | str) -> bool:
    """Whether the text has enough brackets to nest past MAX_JSON_DEPTH (a fast count)."""
    if isinstance(raw, str):
        return raw.count("[") + raw.count("{") > MAX_JSON_DEPTH
    return raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH


def _depth(value: object) -> int:
    """How deep arrays and objects nest in a decoded JSON value, walked with its own stack."""
    deepest = 0
    pending: list[tuple[int, object]] = [(0, value)]
    while pending:
        level, item = pending.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level + 1)
            pending.extend((level + 1, member) for member in item)
    return deepest


def nul_field(value: object, *, name: str = "body") -> str | None:
    """The field of a decoded JSON value whose text carries NUL, or None.

    A string is named by the key of the object member that holds it, however deep in
    arrays, as decode errors are named; a NUL in a key is charged to the object holding
    it. The first in document order is named. The walk keeps its own stack: the value may
    be nested as deep as the decoder let it.
    """
    pending: list[tuple[str, object]] = [(name, value)]
    while pending:
        field, item = pending.pop()
        if isinstance(item, str):
            if NUL in item:
                return field
        elif isinstance(item, dict):
            if any(NUL in key for key in item):
                return field
            pending.extend(reversed(item.items()))
        elif isinstance(item, list):
            pending.extend((field, member) for member in reversed(item))
    return None


def check_percent_encoding(raw: bytes, *, part: str) -> None:
    """Refuse a path or query that is not percent-encoded UTF-8 (a stray ``%``, ``%ff``)."""
    if b"%" not in raw and raw.isascii():
        return
    if _BAD_ESCAPE.search(raw):
        raise MalformedInputError(part, "is not valid percent-encoding")
    try:
        unquote_to_bytes(raw).decode()
    except UnicodeDecodeError:
        raise MalformedInputError(part, "is not valid UTF-8") from None


async def refuse_hostile_text(request: Request[Any, Any, Any]) -> None:
    """The app's `before_request` hook: the path and query of every routed request.

    Only a NUL in the raw path, percent-encoded or not, can put one in a decoded path
    parameter, so those are only walked when the raw path holds one. The query is walked in
    the order the client wrote it (Litestar's `MultiDict` does not keep that order), so the
    field named is always the first at fault: a NUL anywhere, a key given twice that the
    route reads once, or an integer or boolean written otherwise than JSON Schema writes it
    (an empty value is left to Litestar, which reads it as no value).
    """
    scope = request.scope
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
    query: bytes = scope.get("query_string", b"")
    check_percent_encoding(raw_path, part="path")
    check_percent_encoding(query, part="query")
    if any(nul in raw_path for nul in _NUL_IN_TARGET):
        for name, value in request.path_params.items():
            if isinstance(value, str) and NUL in value:
                raise NulCharacterError(name)
    handler = scope.get("route_handler")
    if query and isinstance(handler, HTTPRouteHandler):
        _check_query(handler, query.decode("latin-1"))


@cache
def _body_type(signature_model: type[msgspec.Struct]) -> Any:
    """The type Litestar converts a route's body to: its signature model's ``data`` field."""
    for field in msgspec.structs.fields(signature_model):
        if field.name == _BODY_PARAMETER:
            return field.type
    return Any


def strictly_typed(request: Request[Any, Any, Any], body: Any) -> None:
    """Refuse a decoded body that only a lenient conversion would fit into its route's type.

    Raises Litestar's `ValidationException` with the ``extra`` Litestar gives for the lenient
    conversion (``key`` is the field's path in the body, or ``data`` for the body as a
    whole), so the one handler that words decode errors answers both alike. Litestar then
    converts the body again, leniently, which changes nothing in a value that passed.
    """
    handler = request.scope.get("route_handler")
    model = getattr(handler, "signature_model", None)
    if model is None or (body_type := _body_type(model)) is Any:
        return
    try:
        msgspec.convert(body, body_type, strict=True, dec_hook=handler.default_deserializer)
    except msgspec.ValidationError as exc:
        text = str(exc)
        path = _FIELD_PATH.search(text)
        key = path[1] if path else _BODY_PARAMETER
        raise ValidationException(
            detail=f"Validation failed for {request.method} {request.url.path}",
            extra=[{"key": key, "message": text.split(" - ", 1)[0], "source": "body"}],
        ) from None


class ClientRequest(Request[Any, Any, Any]):
    """Litestar's request, with its JSON body decoded by `decode_json` and typed strictly.

    Litestar's own decoding lets msgspec's UnicodeDecodeError and RecursionError through
    as 500s, and converts the body to the route's type leniently (msgspec ``strict=False``,
    as for the path and the query). Litestar reads a ``data`` parameter through `json`,
    and the route's body type from its handler's signature model
    (tests/unit/test_reliances_http_stack.py).
    """

    __slots__ = ("_client_json",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._client_json: Any = _UNDECODED

    async def json(self) -> Any:
        """The decoded body (None when there is none); decoded once, checked for NUL.

        A body is checked against its route's type, strictly, once it has no NUL.
        """
        if self._client_json is _UNDECODED:
            body = await self.body()
            value = decode_json(body or b"null")
            if body:
                strictly_typed(self, value)
            self._client_json = value
        return self._client_json
