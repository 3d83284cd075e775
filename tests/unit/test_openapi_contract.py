"""The OpenAPI document tells the truth about errors, credentials and methods.

Every route declares the errors only it knows (`responses=error_responses(...)`), and gets
the ones its other declarations imply; every error is documented with the one envelope
schema; private operations need the token and public ones nothing; OPTIONS lists every
method of a path; a route that calls a use case is described by that use case's docstring.
Nothing is started: the app is built and its document generated.
"""

import inspect
import re
from collections.abc import Iterator
from typing import Annotated, Any, get_args, get_origin, get_type_hints

import msgspec
import pytest
from dishka import FromComponent
from dishka.integrations.litestar import FromDishka, inject
from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from litestar import Litestar, MediaType, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute
from litestar.testing import TestClient
from litestar.types import Message, Receive, ReceiveMessage, Scope, Send

from application.articles.list_tags import ListTags
from entrypoints.http.app import ROUTE_HANDLERS
from entrypoints.http.auth import DEPENDENCIES
from entrypoints.http.errors import envelope_bytes
from entrypoints.http.middleware.allowed_methods import AllowedMethodsMiddleware
from entrypoints.http.openapi import (
    ACCESS_TOKEN,
    BEARER_SCHEME,
    TOKEN_SCHEME,
    ErrorEnvelope,
    described_by,
    error_responses,
)
from entrypoints.http.rate_limits import WRITE_RATE_LIMIT
from entrypoints.http.schemas.closed_structs import WITHOUT_NUL
from tests.support.documented_app import documented_app

ENVELOPE = {"$ref": "#/components/schemas/ErrorEnvelope"}
BODY_ERRORS = {"400", "408", "413", "415", "422", "503"}
EVERY_OPERATION = {"400", "401", "422", "503"}


@pytest.fixture(scope="module")
def app() -> Litestar:
    return documented_app()


@pytest.fixture(scope="module")
def document(app: Litestar) -> dict[str, Any]:
    return app.openapi_schema.to_schema()


def documented(app: Litestar) -> Iterator[tuple[str, str, HTTPRouteHandler]]:
    """Each documented operation: its method, its path in the document, its handler."""
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                if handler.resolve_include_in_schema():
                    for method in handler.http_methods:
                        yield method.lower(), route.path_format, handler


def undeclared(app: Litestar) -> list[str]:
    """The documented operations whose decorator passed no `responses`."""
    return sorted(
        f"{method.upper()} {path}"
        for method, path, handler in documented(app)
        if handler.responses is None
    )


def operations(app: Litestar, document: dict[str, Any]) -> Iterator[tuple[str, Any, Any]]:
    for method, path, handler in documented(app):
        yield f"{method.upper()} {path}", handler, document["paths"][path][method]


def test_every_route_declares_the_errors_only_it_knows() -> None:
    bare = Litestar(route_handlers=list(ROUTE_HANDLERS), dependencies=DEPENDENCIES)
    assert undeclared(bare) == []


def test_a_route_added_without_declared_errors_is_caught() -> None:
    @get("/api/forgotten", sync_to_thread=False)
    def forgotten() -> None:
        """Declares nothing."""

    bare = Litestar(route_handlers=[*ROUTE_HANDLERS, forgotten], dependencies=DEPENDENCIES)
    assert undeclared(bare) == ["GET /api/forgotten"]


_FROM_CONTAINER = FromComponent()
"""The marker `FromDishka[T]` puts on a parameter: `T` comes from the container."""
CALLING_NO_USE_CASE = {
    "GET /health/live",
    "GET /api/push/vapid-public-key",
    "POST /api/notifications/live-ticket",
    "GET /api/notifications/stream",
}
"""The routes described by their own docstring, since they call no use case."""


def use_cases(handler: HTTPRouteHandler) -> list[type]:
    """The use cases the handler asks the container for: its `FromDishka[...]` parameters
    whose type is a class of `application`.

    `@inject` gives the handler Litestar sees a signature without them; dishka keeps the
    function as written in `__dishka_orig_func__`, which is read here.
    """
    written = getattr(handler.fn, "__dishka_orig_func__", handler.fn)
    return [
        get_args(hint)[0]
        for hint in get_type_hints(written, include_extras=True).values()
        if get_origin(hint) is Annotated
        and _FROM_CONTAINER in get_args(hint)[1:]
        and isinstance(get_args(hint)[0], type)
        and get_args(hint)[0].__module__.startswith("application.")
    ]


def misdescribed(app: Litestar, document: dict[str, Any]) -> dict[str, list[str]]:
    """Each operation calling use cases whose description is none of their docstrings."""
    return {
        name: [use_case.__name__ for use_case in called]
        for name, handler, operation in operations(app, document)
        if (called := use_cases(handler))
        and operation.get("description") not in {inspect.getdoc(u) for u in called}
    }


def test_a_route_that_calls_a_use_case_is_described_by_its_docstring(
    app: Litestar, document: dict[str, Any]
) -> None:
    """The rules are written once, in the use case, and the document shows them."""
    assert misdescribed(app, document) == {}
    calling_none = {
        name for name, handler, _ in operations(app, document) if not use_cases(handler)
    }
    assert calling_none == CALLING_NO_USE_CASE


def test_every_operation_has_a_summary_and_a_description(
    app: Litestar, document: dict[str, Any]
) -> None:
    for name, _, operation in operations(app, document):
        assert operation.get("summary"), name
        assert operation.get("description"), name


def test_a_route_described_otherwise_than_by_its_use_case_is_caught() -> None:
    @get("/api/tags-again", description="Tags.", responses=error_responses())
    @inject
    async def tags_again(list_tags: FromDishka[ListTags]) -> None:
        del list_tags

    @get("/api/tags-as-said", description=described_by(ListTags), responses=error_responses())
    @inject
    async def tags_as_said(list_tags: FromDishka[ListTags]) -> None:
        del list_tags

    bare = Litestar(route_handlers=[tags_again, tags_as_said], dependencies=DEPENDENCIES)
    document = bare.openapi_schema.to_schema()
    assert misdescribed(bare, document) == {"GET /api/tags-again": ["ListTags"]}


def test_the_envelope_is_one_component_and_what_the_errors_module_sends(
    document: dict[str, Any],
) -> None:
    schema = document["components"]["schemas"]["ErrorEnvelope"]
    assert schema["required"] == ["errors"]
    assert schema["properties"]["errors"]["additionalProperties"]["items"] == {"type": "string"}
    sent = msgspec.json.decode(envelope_bytes("slug", "not found"), type=ErrorEnvelope)
    assert sent.errors == {"slug": ["not found"]}


def test_every_error_response_is_the_envelope_and_none_is_litestars_default(
    app: Litestar, document: dict[str, Any]
) -> None:
    own_shapes = {("GET /health/ready", "503")}  # the readiness report
    for name, _, operation in operations(app, document):
        for status, response in operation["responses"].items():
            if int(status) >= 400 and (name, status) not in own_shapes:
                assert response["content"] == {"application/json": {"schema": ENVELOPE}}, (
                    name,
                    status,
                )
                assert response["description"], (name, status)
    assert '"status_code"' not in msgspec.json.encode(document["paths"]).decode()


def test_every_operation_lists_what_any_request_can_get(
    app: Litestar, document: dict[str, Any]
) -> None:
    for name, _, operation in operations(app, document):
        assert operation["responses"].keys() >= EVERY_OPERATION, name


def test_private_operations_need_the_token_and_list_401_and_public_ones_need_nothing(
    app: Litestar, document: dict[str, Any]
) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes[TOKEN_SCHEME] == {
        "type": "apiKey",
        "name": "Authorization",
        "in": "header",
        "description": schemes[TOKEN_SCHEME]["description"],
    }
    assert schemes[BEARER_SCHEME]["type"] == "http"
    assert schemes[BEARER_SCHEME]["scheme"] == "bearer"
    public = set()
    for name, handler, operation in operations(app, document):
        if handler.opt.get("public"):
            public.add(name)
            assert operation["security"] == [], name
        else:
            assert operation["security"] == ACCESS_TOKEN, name
            assert "missing" in operation["responses"]["401"]["description"], name
    assert {"POST /api/users", "POST /api/users/login", "GET /api/articles"} <= public
    assert "GET /api/user" not in public


def test_guards_bodies_and_rate_limits_bring_their_statuses(
    app: Litestar, document: dict[str, Any]
) -> None:
    for name, handler, operation in operations(app, document):
        responses = operation["responses"]
        if "permission" in handler.opt:
            assert "403" in responses, name
        if "requestBody" in operation:
            assert responses.keys() >= BODY_ERRORS, name
        if "rate_limit" in handler.opt or WRITE_RATE_LIMIT in handler.opt:
            assert "429" in responses, name
        for status in ("429", "503"):
            if (
                status in responses
                and responses[status]["content"]["application/json"]["schema"] == ENVELOPE
            ):
                assert responses[status]["headers"]["Retry-After"]["required"] is True, name


def test_the_routes_own_errors_are_listed(document: dict[str, Any]) -> None:
    paths = document["paths"]
    assert "404" in paths["/api/articles/{slug}"]["get"]["responses"]
    assert "403" in paths["/api/articles/{slug}"]["put"]["responses"]
    assert "409" in paths["/api/users"]["post"]["responses"]
    assert "401" in paths["/api/users/login"]["post"]["responses"]
    assert "404" in paths["/api/articles/{slug}/comments/{comment_id}"]["delete"]["responses"]
    assert "Readiness" in str(paths["/health/ready"]["get"]["responses"]["503"])


def test_a_204_documents_no_body(app: Litestar, document: dict[str, Any]) -> None:
    for name, _, operation in operations(app, document):
        if "204" in operation["responses"]:
            assert "content" not in operation["responses"]["204"], name


def test_options_lists_every_method_of_the_path() -> None:
    @get("/things", sync_to_thread=False, media_type=MediaType.TEXT)
    def read() -> str:
        return "things"

    @post("/things", sync_to_thread=False, media_type=MediaType.TEXT)
    def add() -> str:
        return "added"

    app = Litestar(route_handlers=[read, add])
    app.asgi_handler = AllowedMethodsMiddleware(app.asgi_handler, routes=app.routes)
    with TestClient(app) as client:
        response = client.options("/things")
        assert response.status_code == 204
        assert response.headers["allow"] == "GET, OPTIONS, POST"
        assert client.get("/things").headers.get("allow") is None


async def test_options_on_every_documented_path_lists_the_documented_methods(
    app: Litestar, document: dict[str, Any]
) -> None:
    """Each path's OPTIONS handler, as Litestar routed it, through the app's middleware."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path_format not in document["paths"]:
            continue
        (options_handler,) = (h for h in route.route_handlers if h.http_methods == {"OPTIONS"})
        sent: list[Any] = []

        async def litestar(scope: Scope, _: Receive, send: Send) -> None:
            scope["route_handler"] = options_handler  # noqa: B023 - called within the loop
            await send(
                {"type": "http.response.start", "status": 204, "headers": [(b"allow", b"GET")]}
            )

        async def capture(message: Message) -> None:
            sent.append(message)  # noqa: B023 - called within the loop

        middleware = AllowedMethodsMiddleware(litestar, routes=app.routes)
        scope: Any = {"type": "http", "method": "OPTIONS", "path": route.path}
        await middleware(scope, _never_receive, capture)
        allow = dict(sent[0]["headers"])[b"allow"].decode()
        documented_methods = {m.upper() for m in document["paths"][route.path_format]}
        assert allow.split(", ") == sorted({*documented_methods, "OPTIONS"}), route.path


async def _never_receive() -> ReceiveMessage:
    raise AssertionError("the middleware reads no body")


def test_every_free_text_parameter_says_it_may_not_hold_nul(
    app: Litestar, document: dict[str, Any]
) -> None:
    """The edge refuses NUL in every path and query parameter (client_input); so says the
    document, or a schema-valid request would get 422."""
    unstated = [
        f"{name} {parameter['name']}"
        for name, _, operation in operations(app, document)
        for parameter in operation.get("parameters", [])
        for schema in (parameter["schema"], *parameter["schema"].get("oneOf", []))
        if schema.get("type") == "string" and not {"pattern", "format", "enum"} & schema.keys()
    ]
    assert unstated == []
    articles = document["paths"]["/api/articles"]["get"]["parameters"]
    tag = next(p for p in articles if p["name"] == "tag")
    assert {"type": "string", "pattern": WITHOUT_NUL} in tag["schema"]["oneOf"]


def _text_patterns(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") == "string" and "pattern" in node:
            yield node["pattern"]
        for value in node.values():
            yield from _text_patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _text_patterns(value)


_FIRST_EXAMPLE = settings(
    database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck)
)


def _a_match(pattern: re.Pattern[str]) -> str:
    return find(st.from_regex(pattern), lambda _: True, settings=_FIRST_EXAMPLE)


def test_every_text_pattern_in_the_document_refuses_nul(document: dict[str, Any]) -> None:
    """The edge refuses NUL in every text (client_input), so no pattern may admit one; a
    pattern that did would make a schema-valid request a 422. A text the pattern admits,
    with a NUL added at either end or inside, must no longer match."""
    patterns = sorted(set(_text_patterns(document)))
    admitting = []
    for pattern in patterns:
        compiled = re.compile(pattern)
        match = _a_match(compiled)
        with_nul = (f"{match}\x00", f"\x00{match}", f"{match[:1]}\x00{match[1:]}")
        if any(compiled.search(text) for text in with_nul):
            admitting.append(pattern)
    assert len(patterns) > 5
    assert admitting == []
