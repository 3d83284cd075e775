"""The one place where exceptions become HTTP responses, in the RealWorld error envelope.

Every error body is ``{"errors": {"<field or resource>": ["message"]}}``. Expected errors
keep their message; anything unexpected becomes a 500 that tells the client only the
request id, while the log gets the trace.
"""

from collections.abc import Callable, Mapping
from typing import Any

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_401_UNAUTHORIZED,
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_405_METHOD_NOT_ALLOWED,
    HTTP_408_REQUEST_TIMEOUT,
    HTTP_409_CONFLICT,
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_429_TOO_MANY_REQUESTS,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from litestar.types import Scope
from loguru import logger

from application.common.errors import (
    ApplicationError,
    AuthenticationRequiredError,
    ConflictError,
    ConnectionLostError,
    DependencyUnavailableError,
    InvalidCredentialsError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    TooManyRequestsError,
)
from domain.files.errors import (
    FileStateError,
    FileTooLargeError,
    StorageQuotaExceededError,
    UnsupportedFileTypeError,
)
from domain.shared.errors import DomainError
from entrypoints.http.client_input import MalformedInputError, ParameterError, wire_names
from entrypoints.http.decode_errors import field_error, is_malformed_json
from entrypoints.http.middleware.repeat_on_lost_connection import note_repeatable

ErrorBody = dict[str, dict[str, list[str]]]

APPLICATION_ERROR_STATUS: Mapping[type[ApplicationError], int] = {
    NotFoundError: HTTP_404_NOT_FOUND,
    ConflictError: HTTP_409_CONFLICT,
    InvalidInputError: HTTP_422_UNPROCESSABLE_ENTITY,
    DependencyUnavailableError: HTTP_503_SERVICE_UNAVAILABLE,
    AuthenticationRequiredError: HTTP_401_UNAUTHORIZED,
    InvalidCredentialsError: HTTP_401_UNAUTHORIZED,
    PermissionDeniedError: HTTP_403_FORBIDDEN,
    TooManyRequestsError: HTTP_429_TOO_MANY_REQUESTS,
}
"""The table from application errors to statuses; a subclass inherits its parent's row."""

DOMAIN_ERROR_STATUS: Mapping[type[DomainError], int] = {
    FileTooLargeError: HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    StorageQuotaExceededError: HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    UnsupportedFileTypeError: HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    FileStateError: HTTP_409_CONFLICT,
}
"""The broken rules answered otherwise than 422: a rule about a body's size or type, which
HTTP has statuses of its own for, or one about the current state of the file a request
names, which no request schema can express. A subclass inherits its parent's row."""

_HTTP_ERROR_KEYS: Mapping[int, tuple[str, str | None]] = {
    HTTP_404_NOT_FOUND: ("route", "not found"),
    HTTP_405_METHOD_NOT_ALLOWED: ("method", "is not allowed on this route"),
    HTTP_413_REQUEST_ENTITY_TOO_LARGE: ("body", "is too large"),
    HTTP_415_UNSUPPORTED_MEDIA_TYPE: ("content_type", "is not supported"),
    HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE: ("range", "is not satisfiable"),
}


def loggable_path(scope: Scope) -> str:
    """The path as it came on the wire, still percent-encoded, without its query.

    A decoded newline could forge a log line; anything unprintable left over is escaped.
    The query is cut even where a server's ``raw_path`` holds it (httpx's ASGI transport
    does), since it may carry a link's token (``/reset-password?token=...``).
    """
    raw: bytes = scope.get("raw_path") or scope.get("path", "").encode()
    raw = raw.split(b"?", 1)[0]
    text = raw.decode("latin-1")
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


CLIENT_DISCONNECTED_STATUS = 499
"""Recorded for a request whose client left before its response: nginx's "client closed"."""
_CLIENT_DISCONNECTED = "client_disconnected"


def mark_client_disconnected(scope: Scope) -> None:
    """Note on the request that its client has gone (the server sent `http.disconnect`)."""
    scope.setdefault("state", {})[_CLIENT_DISCONNECTED] = True


def log_client_disconnect(
    scope: Scope, received: int | None = None, declared: int | None = None
) -> None:
    """The one line a client leaving mid-request gets: INFO, no trace; it is not our fault."""
    got = "" if received is None else f" after {received} of {declared or '?'} body bytes"
    logger.info(
        "client disconnected{got} on {method} {path}",
        got=got,
        method=scope.get("method", "-"),
        path=loggable_path(scope),
    )


def envelope(key: str, *messages: str) -> ErrorBody:
    """Build the error envelope for one key."""
    return {"errors": {key: list(messages)}}


def envelope_bytes(key: str, message: str) -> bytes:
    """The envelope encoded as JSON, for middleware that answers before Litestar does."""
    return msgspec.json.encode(envelope(key, message))


def _response(
    status: int, body: ErrorBody, headers: Mapping[str, str] | None = None
) -> Response[ErrorBody]:
    return Response(content=body, status_code=status, media_type=MediaType.JSON, headers=headers)


def status_of(error: ApplicationError) -> int:
    """The status of a use case's expected failure, by `APPLICATION_ERROR_STATUS`."""
    return _looked_up(error, APPLICATION_ERROR_STATUS, default=HTTP_400_BAD_REQUEST)


def domain_status_of(error: DomainError) -> int:
    """The status of a broken business rule, by `DOMAIN_ERROR_STATUS`; 422 when it has no row."""
    return _looked_up(error, DOMAIN_ERROR_STATUS, default=HTTP_422_UNPROCESSABLE_ENTITY)


def _looked_up(error: Exception, table: Mapping[Any, int], *, default: int) -> int:
    for cls in type(error).__mro__:
        status = table.get(cls)
        if status is not None:
            return int(status)
    return default


def application_error_handler(
    _: Request[Any, Any, Any], exc: ApplicationError
) -> Response[ErrorBody]:
    """Map a use case's expected failure by the table above."""
    headers = None
    if isinstance(exc, TooManyRequestsError | DependencyUnavailableError):
        headers = {"Retry-After": str(exc.retry_after_seconds)}
    return _response(status_of(exc), envelope(exc.field, exc.message), headers)


def validation_error_handler(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[ErrorBody]:
    """Decode errors: a field-level problem is 422, a body that is not JSON at all is 400."""
    fields: dict[str, list[str]] = {}
    handler = request.scope.get("route_handler")
    renamed = wire_names(handler) if isinstance(handler, HTTPRouteHandler) else {}
    # ValidationException.extra's shape is undocumented: tests/unit/test_reliances_http_stack.py
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            key, message = field_error(str(item.get("key") or ""), str(item.get("message") or ""))
            if item.get("source") != "body":
                key = renamed.get(key, key)
            fields.setdefault(key, []).append(message)
    if fields:
        return _response(HTTP_422_UNPROCESSABLE_ENTITY, {"errors": fields})
    return http_error_handler(request, exc)


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorBody]:
    """Litestar's own errors (routing, method, size, media type) in our envelope."""
    status = exc.status_code
    if status >= HTTP_500_INTERNAL_SERVER_ERROR and request.scope.get("state", {}).get(
        _CLIENT_DISCONNECTED
    ):
        # Litestar raises InternalServerException when the client leaves mid-body.
        log_client_disconnect(request.scope)
        return _response(CLIENT_DISCONNECTED_STATUS, envelope("request", "client disconnected"))
    if status >= HTTP_500_INTERNAL_SERVER_ERROR:
        return unexpected_error_handler(request, exc)
    # msgspec's DecodeError wording, via Litestar: tests/unit/test_reliances_http_stack.py
    if status == HTTP_400_BAD_REQUEST and is_malformed_json(exc.detail):
        return _response(status, envelope("body", "is not valid JSON"), exc.headers)
    key, message = _HTTP_ERROR_KEYS.get(status, ("request", None))
    return _response(status, envelope(key, message or _plain(exc.detail)), exc.headers)


def unexpected_error_handler(
    request: Request[Any, Any, Any], exc: Exception
) -> Response[ErrorBody]:
    """Log the trace with the request id; tell the client nothing but that id."""
    request_id = request.scope.get("state", {}).get("request_id", "-")
    logger.opt(exception=exc).error(
        "unhandled {exc_type} on {method} {path}",
        exc_type=type(exc).__name__,
        method=request.method,
        path=loggable_path(request.scope),
    )
    body = envelope("server", f"an internal error occurred; reference {request_id}")
    return _response(HTTP_500_INTERNAL_SERVER_ERROR, body)


async def envelope_framework_pages(response: Response[Any]) -> Response[Any]:
    """Turn the HTML pages Litestar serves on its own (404 under /schema) into the envelope.

    It is a coroutine because Litestar runs a plain-function hook in a worker thread, and
    this one runs on every response.
    """
    if response.status_code == HTTP_404_NOT_FOUND and response.media_type == MediaType.HTML:
        return _response(HTTP_404_NOT_FOUND, envelope("route", "not found"))
    return response


def refused_input_handler(
    _: Request[Any, Any, Any], exc: MalformedInputError | ParameterError
) -> Response[ErrorBody]:
    """Input the edge refused (client_input.py): malformed is 400, a bad parameter 422."""
    if isinstance(exc, MalformedInputError):
        return _response(HTTP_400_BAD_REQUEST, envelope(exc.key, exc.message))
    return _response(HTTP_422_UNPROCESSABLE_ENTITY, envelope(exc.field, exc.message))


def domain_error_handler(_: Request[Any, Any, Any], exc: DomainError) -> Response[ErrorBody]:
    """A broken business rule is the client's to fix, keyed by what the rule is about.

    422, or the status `DOMAIN_ERROR_STATUS` gives it (a body too large or of a refused type).
    """
    return _response(domain_status_of(exc), envelope(exc.field, exc.message))


def _plain(message: str) -> str:
    first_line = message.strip().splitlines()[0] if message.strip() else "is invalid"
    return first_line[:300]


def connection_lost_handler(
    request: Request[Any, Any, Any], exc: ConnectionLostError
) -> Response[ErrorBody]:
    """A 503 like any outage, marked so the request runs once more before it is sent.

    Not a request whose body was streamed: nobody holds that body to read it again.
    """
    if not request.scope.get("state", {}).get(_BODY_STREAMED):
        note_repeatable(request.scope, exc)
    return application_error_handler(request, exc)


_BODY_STREAMED = "body_streamed"


def note_body_streamed(scope: Scope) -> None:
    """Note that the handler reads the request's body as a stream, which cannot be replayed."""
    scope.setdefault("state", {})[_BODY_STREAMED] = True


class BodyStalledError(Exception):
    """A streamed body stopped arriving: no chunk came within the read timeout."""


def body_stalled_handler(_: Request[Any, Any, Any], __: BodyStalledError) -> Response[ErrorBody]:
    """408, and the connection is closed, since the rest of the body is not read."""
    return _response(
        HTTP_408_REQUEST_TIMEOUT,
        envelope("body", "stopped arriving; send it again"),
        {"Connection": "close"},
    )


EXCEPTION_HANDLERS: Mapping[type[Exception], Callable[..., Response[ErrorBody]]] = {
    ConnectionLostError: connection_lost_handler,
    BodyStalledError: body_stalled_handler,
    ApplicationError: application_error_handler,
    DomainError: domain_error_handler,
    MalformedInputError: refused_input_handler,
    ParameterError: refused_input_handler,
    ValidationException: validation_error_handler,
    HTTPException: http_error_handler,
    Exception: unexpected_error_handler,
}
