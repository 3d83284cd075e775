"""Request bodies that carry a file, read as they arrive and never held whole.

An upload is either the raw body, named by the query, or a ``multipart/form-data`` form of
small fields followed by one file part. Either way the file's bytes reach the use case as
chunks the moment they arrive; a form is parsed with a push parser (`python_multipart`), so
what is held at once is one chunk, plus the few bytes of a field before the file.

The form's fields are read before the file, since the use case needs them before the first
byte; a field after the file, or a second file, fails the upload once the file has
streamed, and the use case keeps nothing of it.
"""

from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from litestar import Request
from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header

from domain.files.values import FilePurpose
from domain.users.values import BLANK
from entrypoints.http.client_input import (
    NUL,
    ONCE_MESSAGE,
    MalformedInputError,
    NulCharacterError,
    ParameterError,
)
from entrypoints.http.errors import note_body_streamed

MULTIPART_FORM: Final = "multipart/form-data"
FORM_FIELDS: Final = frozenset({"purpose"})
"""The fields a form may hold before its file."""
FIELD_MAX_BYTES: Final = 1024
UNKNOWN_FIELD: Final = "is not a known field"
NOT_MULTIPART: Final = "is not valid multipart/form-data"


DEFAULT_PURPOSE = FilePurpose.ATTACHMENT
"""An upload that names no purpose is private to its owner."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UploadBody:
    """What an upload request says about its file, and the file's bytes as they arrive.

    `declared_size` is the file's exact size when the request says it (a raw body's
    ``Content-Length``); a form's file part has none.
    """

    purpose: FilePurpose
    name: str | None
    chunks: AsyncIterator[bytes]
    declared_size: int | None


async def body_chunks(request: Request[Any, Any, Any]) -> AsyncIterator[bytes]:
    """The request's body, chunk by chunk, as the server receives it."""
    note_body_streamed(request.scope)
    async for chunk in request.stream():
        if chunk:
            yield chunk


def media_type(request: Request[Any, Any, Any]) -> str | None:
    """The body's media type, lower case, without parameters; None when none is sent."""
    header = request.headers.get("content-type")
    if header is None:
        return None
    return header.split(";", 1)[0].strip().lower() or None


def declared_length(request: Request[Any, Any, Any]) -> int | None:
    """The body's ``Content-Length``; the body guard already refused one that is not a number."""
    header = request.headers.get("content-length")
    return int(header) if header is not None else None


async def upload_body(
    request: Request[Any, Any, Any], *, purpose: FilePurpose | None, name: str | None
) -> UploadBody:
    """The upload a request carries: a form's fields and file, or the raw body.

    A raw body is named by the query's `purpose` and `name`. A form names its file itself,
    with a `purpose` field before the file part and the part's ``filename``; the query is
    not read then, so each upload says everything in one place. Without a purpose the
    file is an attachment (private to its owner); without a name, the use case names it.
    """
    if media_type(request) != MULTIPART_FORM:
        return UploadBody(
            purpose=purpose or DEFAULT_PURPOSE,
            name=name,
            chunks=body_chunks(request),
            declared_size=declared_length(request),
        )
    form = StreamedForm(body_chunks(request), boundary=_boundary(request))
    fields, filename = await form.fields_until_file()
    field = fields.get("purpose")
    return UploadBody(
        purpose=_purpose(field) if field is not None else DEFAULT_PURPOSE,
        name=filename,
        chunks=form.file_chunks(),
        declared_size=None,
    )


def _purpose(value: str) -> FilePurpose:
    try:
        return FilePurpose(value)
    except ValueError:
        raise ParameterError("purpose", "is not one of the allowed values") from None


def _boundary(request: Request[Any, Any, Any]) -> bytes:
    _, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if not boundary:
        raise MalformedInputError("body", "is multipart/form-data without a boundary")
    return boundary


_Event = tuple[str, bytes | Mapping[bytes, bytes] | None]


class StreamedForm:
    """A ``multipart/form-data`` body, parsed as its chunks arrive.

    The parser's callbacks queue events (a part's headers, a piece of its data, its end,
    the form's end); reading takes them in order, feeding the parser the next chunk only
    when the queue is empty, so no more than one chunk's worth is ever queued.
    """

    def __init__(self, chunks: AsyncIterator[bytes], *, boundary: bytes) -> None:
        self._chunks = chunks
        self._events: deque[_Event] = deque()
        self._headers: dict[bytes, bytes] = {}
        self._header_field = b""
        self._header_value = b""
        try:
            self._parser = MultipartParser(
                boundary,
                callbacks={
                    "on_part_begin": self._part_begins,
                    "on_header_field": self._header_field_piece,
                    "on_header_value": self._header_value_piece,
                    "on_header_end": self._header_ends,
                    "on_headers_finished": self._headers_end,
                    "on_part_data": self._data,
                    "on_part_end": lambda: self._events.append(("part_end", None)),
                    "on_end": lambda: self._events.append(("end", None)),
                },
            )
        except FormParserError:
            raise MalformedInputError("body", "has an invalid multipart boundary") from None

    async def fields_until_file(self) -> tuple[dict[str, str], str | None]:
        """The fields before the file part, and the file's ``filename`` (None if it has none).

        Raises `ParameterError` for an unknown, repeated or oversized field, and for a form
        that ends without a file.
        """
        fields: dict[str, str] = {}
        while True:
            kind, value = await self._next_event()
            if kind == "end":
                raise ParameterError("file", BLANK)
            if kind != "part" or not isinstance(value, Mapping):
                continue
            field, filename = _disposition(value)
            if filename is not None:
                return fields, filename or None
            if field not in FORM_FIELDS:
                raise ParameterError(field, UNKNOWN_FIELD)
            if field in fields:
                raise ParameterError(field, ONCE_MESSAGE)
            fields[field] = await self._field_value(field)

    async def file_chunks(self) -> AsyncIterator[bytes]:
        """The file part's bytes; then the rest of the form, which may hold nothing more."""
        while True:
            kind, value = await self._next_event()
            if kind == "part_end":
                break
            if kind == "data" and isinstance(value, bytes) and value:
                yield value
        while True:
            kind, value = await self._next_event()
            if kind == "end":
                return
            if kind == "part" and isinstance(value, Mapping):
                field, filename = _disposition(value)
                if filename is not None:
                    raise ParameterError("file", "may be sent only once per upload")
                raise ParameterError(field, "must come before the file")

    async def _field_value(self, field: str) -> str:
        value = b""
        while True:
            kind, piece = await self._next_event()
            if kind == "part_end":
                break
            if kind == "data" and isinstance(piece, bytes):
                value += piece
                if len(value) > FIELD_MAX_BYTES:
                    raise ParameterError(field, f"is longer than {FIELD_MAX_BYTES} bytes")
        try:
            text = value.decode()
        except UnicodeDecodeError:
            raise ParameterError(field, "is not valid UTF-8") from None
        if NUL in text:
            raise NulCharacterError(field)
        return text

    async def _next_event(self) -> _Event:
        while not self._events:
            try:
                chunk = await anext(self._chunks)
            except StopAsyncIteration:
                raise MalformedInputError("body", "ends before its multipart form does") from None
            try:
                self._parser.write(chunk)
            except FormParserError:
                raise MalformedInputError("body", NOT_MULTIPART) from None
        return self._events.popleft()

    def _part_begins(self) -> None:
        self._headers = {}

    def _header_field_piece(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _header_value_piece(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_ends(self) -> None:
        self._headers[self._header_field.strip().lower()] = self._header_value.strip()
        self._header_field, self._header_value = b"", b""

    def _headers_end(self) -> None:
        self._events.append(("part", self._headers))

    def _data(self, data: bytes, start: int, end: int) -> None:
        self._events.append(("data", data[start:end]))


def _disposition(headers: Mapping[bytes, bytes]) -> tuple[str, str | None]:
    """A part's field name, and its ``filename`` if it is a file ("" for an empty one)."""
    kind, options = parse_options_header(headers.get(b"content-disposition", b""))
    name = options.get(b"name")
    if kind != b"form-data" or name is None:
        raise MalformedInputError("body", "has a part that is not a named form-data field")
    field = _text(name, "body")
    if NUL in field:
        raise NulCharacterError("body")
    filename = options.get(b"filename")
    return field, None if filename is None else _text(filename, "name")


def _text(raw: bytes, field: str) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise ParameterError(field, "is not valid UTF-8") from None
