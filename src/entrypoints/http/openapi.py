"""What the OpenAPI document says about errors and credentials, derived from each route.

Every error Portico sends is the envelope `ErrorEnvelope` describes, with one status per
cause. The statuses a route can answer come from two places:

- what the route already declares, read here once the app is built: being public or
  not (401 for a missing or bad token, or only for a bad one), a `permission` (403), a
  JSON body (400, 408, 413, 415, 422 and the body budget's 503), a streamed body (400,
  408, 422; the route declares its own 413 and 415), a typed path parameter
  (404 when it does not parse), a per-IP or per-user rate limit (429, and 503 when its
  store is down and limits fail closed); and what every route can answer (400 for a path
  or query that is not percent-encoded UTF-8, 422 for a bad parameter, 503 when a server
  it needs is down). A new route gets these for nothing;
- what only the route knows, declared in its decorator with
  ``responses=error_responses(not_found="...", conflict=WRITE_CONFLICT, ...)``, one sentence
  per cause. Every route in the document declares, even if nothing
  (`tests/unit/test_openapi_contract.py`).

`document_routes` merges both into each handler's `responses` (a route's own answer for a
status in another shape, such as the readiness report's 503, stands in for the envelope),
marks private operations with the token schemes and public ones with none, and
`DocumentedOperation` adds what Litestar's `ResponseSpec` cannot say: `Retry-After` on
every 429 and 503 in the envelope, and ``security: []`` on public operations. A route whose
body or answers its signature cannot show (a body it streams, a file's bytes) names a
subclass of it as its ``operation_class``, which adds them.

What an operation does, and its rules, are the docstring of the use case it calls:
``description=described_by(UseCase)``. The use case names the errors it raises; the
route's `responses` say how each is answered. A route that calls no use case is described
by its own docstring.
"""

import inspect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeGuard

import msgspec
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    Components,
    OpenAPIHeader,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    Schema,
    SecurityRequirement,
    SecurityScheme,
)
from litestar.routes import HTTPRoute
from litestar.status_codes import (
    HTTP_204_NO_CONTENT,
    HTTP_400_BAD_REQUEST,
    HTTP_401_UNAUTHORIZED,
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_408_REQUEST_TIMEOUT,
    HTTP_409_CONFLICT,
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_429_TOO_MANY_REQUESTS,
    HTTP_503_SERVICE_UNAVAILABLE,
)

from application.common.permissions import Permission
from entrypoints.http.rate_limits import WRITE_RATE_LIMIT, limit_writes
from entrypoints.http.schemas.closed_structs import WITHOUT_NUL


class ErrorEnvelope(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``{"errors": {"<field or resource>": ["message", ...]}}``: the body of every error.

    The shape `entrypoints.http.errors.ErrorBody` builds, as a named schema for the
    document; the key names the field or resource the messages are about.
    """

    errors: dict[str, list[str]]


TOKEN_SCHEME = "Token"  # noqa: S105 - a scheme's name
BEARER_SCHEME = "Bearer"
ACCESS_TOKEN: list[SecurityRequirement] = [{TOKEN_SCHEME: []}, {BEARER_SCHEME: []}]
"""Either scheme: the guard reads ``Authorization: Token <jwt>`` and ``Bearer <jwt>`` alike."""
RETRY_AFTER_STATUSES = frozenset({HTTP_429_TOO_MANY_REQUESTS, HTTP_503_SERVICE_UNAVAILABLE})
"""Every 429 and 503 in the envelope says when to retry (errors.application_error_handler)."""

WRITE_CONFLICT = (
    "The transaction lost a race with a concurrent one and was rolled back; "
    "nothing was saved, and retrying may succeed."
)

_WHERE_FROM = "Send the access token that registering, signing in or refreshing returned."
COMPONENTS = Components(
    security_schemes={
        TOKEN_SCHEME: SecurityScheme(
            type="apiKey",
            name="Authorization",
            security_scheme_in="header",
            description=f"`Authorization: Token <jwt>`, as RealWorld sends it. {_WHERE_FROM}",
        ),
        BEARER_SCHEME: SecurityScheme(
            type="http",
            scheme="bearer",
            bearer_format="JWT",
            description=f"`Authorization: Bearer <jwt>`, the same token. {_WHERE_FROM}",
        ),
    },
)
"""The components the app's OpenAPIConfig starts from; the schemas come from the routes."""

_RETRY_AFTER = OpenAPIHeader(
    schema=Schema(type=OpenAPIType.INTEGER, minimum=0),
    description="Seconds to wait before trying again.",
    required=True,
)

_EVERY_ROUTE: Mapping[int, str] = {
    HTTP_400_BAD_REQUEST: "The path or query is not valid percent-encoded UTF-8.",
    HTTP_422_UNPROCESSABLE_ENTITY: (
        "A path or query parameter is of the wrong type, out of bounds or carries NUL; "
        "the envelope names it."
    ),
    HTTP_503_SERVICE_UNAVAILABLE: (
        "A server the request needs (the database, the cache) is unreachable; nothing was saved."
    ),
}
_WITH_BODY: Mapping[int, str] = {
    HTTP_400_BAD_REQUEST: "The body is not JSON, or Content-Length is not a number.",
    HTTP_408_REQUEST_TIMEOUT: "The body did not arrive within APP_BODY_READ_TIMEOUT_SECONDS.",
    HTTP_413_REQUEST_ENTITY_TOO_LARGE: "The body is over MAX_REQUEST_BODY_BYTES.",
    HTTP_415_UNSUPPORTED_MEDIA_TYPE: "The body is not `application/json` (or `+json`).",
    HTTP_422_UNPROCESSABLE_ENTITY: (
        "A body field is missing, of the wrong type, out of bounds or breaks a rule; "
        "the envelope names it."
    ),
    HTTP_503_SERVICE_UNAVAILABLE: (
        "The process holds as many request bodies as APP_BODY_BUFFER_BUDGET_BYTES allows."
    ),
}
_WITH_STREAMED_BODY: Mapping[int, str] = {
    HTTP_400_BAD_REQUEST: "Content-Length is not a number, or the body is not what its "
    "Content-Type says (a form that is not valid `multipart/form-data`).",
    HTTP_408_REQUEST_TIMEOUT: (
        "The body stopped arriving for longer than APP_BODY_READ_TIMEOUT_SECONDS."
    ),
    HTTP_422_UNPROCESSABLE_ENTITY: (
        "A field of the body or the query is missing, of the wrong type or breaks a rule; "
        "the envelope names it."
    ),
}
"""What a route that streams its body (``request_max_body_size=None``) answers of it; its
limits of size and type are its own, declared by the route."""
_RATE_LIMITED_STORE_DOWN = (
    "The rate limiter's store is unreachable and RATE_LIMIT_FAIL_OPEN is off."
)
_REFUSED_CREDENTIALS = "The access token is missing, malformed, expired or revoked."
_REFUSED_OPTIONAL_CREDENTIALS = "A token was sent and is not valid (this route needs none)."


def error_responses(
    *,
    unauthorized: str | None = None,
    forbidden: str | None = None,
    not_found: str | None = None,
    conflict: str | None = None,
    content_too_large: str | None = None,
    unsupported_media_type: str | None = None,
    range_not_satisfiable: str | None = None,
    unprocessable: str | None = None,
    too_many_requests: str | None = None,
    unavailable: str | None = None,
) -> dict[int, ResponseSpec]:
    """The errors only this route knows it answers, one sentence per cause, for `responses=`.

    With no arguments it still declares that the route answers only the errors it derives.
    """
    declared = {
        HTTP_401_UNAUTHORIZED: unauthorized,
        HTTP_403_FORBIDDEN: forbidden,
        HTTP_404_NOT_FOUND: not_found,
        HTTP_409_CONFLICT: conflict,
        HTTP_413_REQUEST_ENTITY_TOO_LARGE: content_too_large,
        HTTP_415_UNSUPPORTED_MEDIA_TYPE: unsupported_media_type,
        HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE: range_not_satisfiable,
        HTTP_422_UNPROCESSABLE_ENTITY: unprocessable,
        HTTP_429_TOO_MANY_REQUESTS: too_many_requests,
        HTTP_503_SERVICE_UNAVAILABLE: unavailable,
    }
    return {status: _envelope(reason) for status, reason in declared.items() if reason}


def described_by(use_case: type) -> str:
    """The description of a route that calls `use_case`: that use case's docstring.

    So the rules are written once, in the core, in its own terms; the route adds only what
    is HTTP's (statuses, headers, cookies) in its `responses` and `response_description`.
    """
    description = inspect.getdoc(use_case)
    if not description:
        raise TypeError(f"{use_case.__qualname__} has no docstring to describe its routes")
    return description


def derived_errors(route: HTTPRoute, handler: HTTPRouteHandler) -> dict[int, list[str]]:
    """The statuses the route's own declarations imply, each with its causes."""
    reasons: dict[int, list[str]] = {status: [text] for status, text in _EVERY_ROUTE.items()}

    def add(status: int, text: str) -> None:
        reasons.setdefault(status, []).append(text)

    if handler.opt.get("public"):
        add(HTTP_401_UNAUTHORIZED, _REFUSED_OPTIONAL_CREDENTIALS)
    else:
        add(HTTP_401_UNAUTHORIZED, _REFUSED_CREDENTIALS)
    permission = handler.opt.get("permission")
    if isinstance(permission, Permission):
        add(HTTP_403_FORBIDDEN, f"The caller's role lacks the `{permission.value}` permission.")
    if "data" in handler.parsed_fn_signature.parameters:
        for status, text in _WITH_BODY.items():
            add(status, text)
    if handler.resolve_request_max_body_size() is None:
        for status, text in _WITH_STREAMED_BODY.items():
            add(status, text)
    typed = sorted(p.name for p in route.path_parameters.values() if p.type is not str)
    if typed:
        add(HTTP_404_NOT_FOUND, f"`{'`, `'.join(typed)}` does not parse, so no route matches.")
    per_ip = handler.opt.get("rate_limit")
    counts_writes = limit_writes in handler.resolve_guards()
    per_user = handler.opt.get(WRITE_RATE_LIMIT) if counts_writes else None
    if per_ip:
        rules = (per_ip,) if isinstance(per_ip, str) else tuple(per_ip)
        add(HTTP_429_TOO_MANY_REQUESTS, f"Over the per-client-IP limit `{'`, `'.join(rules)}`.")
    if per_user:
        add(HTTP_429_TOO_MANY_REQUESTS, f"Over the caller's `{per_user}` budget.")
    if per_ip or per_user:
        add(HTTP_503_SERVICE_UNAVAILABLE, _RATE_LIMITED_STORE_DOWN)
    return reasons


def document_routes(app: Litestar) -> None:
    """Give every documented operation of `app` its error responses and its security.

    Runs once the app is built, on Litestar's copies of the handlers, whose `opt` and
    guards are resolved through their controllers; Litestar reads `responses`, `security`
    and `operation_class` only when it generates the document, which is later.
    """
    for route, handler in _documented_handlers(app):
        declared = handler.responses or {}
        reasons = derived_errors(route, handler)
        for status, spec in declared.items():
            if spec.data_container is ErrorEnvelope:
                reasons.setdefault(status, []).append(spec.description)
        own = {s: spec for s, spec in declared.items() if spec.data_container is not ErrorEnvelope}
        errors = {s: _envelope(*texts) for s, texts in sorted(reasons.items()) if s not in own}
        handler.responses = {**own, **errors}
        handler.security = None if handler.opt.get("public") else ACCESS_TOKEN
        if not issubclass(handler.operation_class, DocumentedOperation):
            handler.operation_class = DocumentedOperation


@dataclass
class DocumentedOperation(Operation):
    """An operation with what `ResponseSpec` and a handler's `security` cannot express.

    - Each 429 and 503 in the envelope documents its `Retry-After` header.
    - An operation with no security requirement is public: Litestar leaves the field out,
      which would let the document's default apply, so it is written as ``[]``.
    - A 204 has no body, whatever the handler's return type (`Response[None]` reads to
      Litestar as a JSON null).
    - A text path or query parameter says it may not hold NUL, which the edge refuses in
      every parameter (`client_input`), unless a pattern of its own already says more.
    """

    def __post_init__(self) -> None:
        """Complete the operation Litestar generated."""
        if self.security is None:
            self.security = []
        for parameter in self.parameters or ():
            schema = getattr(parameter, "schema", None)
            for member in (schema, *(getattr(schema, "one_of", None) or ())):
                if _free_text(member):
                    member.pattern = WITHOUT_NUL
        for status, response in (self.responses or {}).items():
            if int(status) == HTTP_204_NO_CONTENT and isinstance(response, OpenAPIResponse):
                response.content = None
            if int(status) in RETRY_AFTER_STATUSES and _is_envelope(response):
                response.headers = {"Retry-After": _RETRY_AFTER}  # type: ignore[union-attr]


def _free_text(schema: object) -> TypeGuard[Schema]:
    """A text schema with no pattern, format or enum of its own."""
    return (
        isinstance(schema, Schema)
        and schema.type == OpenAPIType.STRING
        and schema.pattern is None
        and schema.format is None
        and schema.enum is None
    )


def _envelope(*reasons: str) -> ResponseSpec:
    return ResponseSpec(
        data_container=ErrorEnvelope,
        description=" ".join(reasons),
        generate_examples=False,
    )


def _is_envelope(response: OpenAPIResponse | Reference) -> bool:
    """Whether the response's body is `ErrorEnvelope`.

    Litestar names components only once every operation is built; until then a reference
    holds the type's full key (module and name), which ends with the name.
    """
    if not isinstance(response, OpenAPIResponse) or not response.content:
        return False
    return any(
        isinstance(media.schema, Reference) and media.schema.ref.endswith(ErrorEnvelope.__name__)
        for media in response.content.values()
    )


def _documented_handlers(app: Litestar) -> Iterable[tuple[HTTPRoute, HTTPRouteHandler]]:
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                if handler.resolve_include_in_schema():
                    yield route, handler
