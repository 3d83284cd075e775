"""Litestar, dishka and granian: the HTTP stack's undocumented behaviour.

What each failure says, and what to do then: tests/support/reliance.py.
"""

import inspect
import logging.config
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import granian
import msgspec
import pytest
from dishka import AsyncContainer, Provider, Scope, make_async_container
from dishka.integrations.litestar import setup_dishka
from litestar import Litestar, Request, Response, WebSocket, get, post, websocket
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, ValidationException
from litestar.handlers import BaseRouteHandler
from litestar.params import JSONBody
from litestar.testing import TestClient
from msgspec import Meta

from entrypoints.cli import serve
from entrypoints.cli.serve import _LOGGING_INTO_LOGURU
from entrypoints.config.loader import load_settings
from entrypoints.http.client_input import ClientRequest
from entrypoints.http.controllers.docs import OPENAPI_JSON_PATH, api_reference
from entrypoints.http.errors import EXCEPTION_HANDLERS, http_error_handler, validation_error_handler
from entrypoints.http.middleware.request_id import RequestIdMiddleware
from tests.support.reliance import Reliance

# --- Litestar ------------------------------------------------------------------------------


class _User(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    email: Annotated[str, Meta(max_length=5)]


class _UserRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    user: _User


@contextmanager
def _validation_app() -> Iterator[tuple[Any, list[Any]]]:
    """A Litestar app with a msgspec body, Portico's error handlers, and what they were given."""
    seen: list[Any] = []

    def on_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
        seen.append(exc)
        return validation_error_handler(request, exc)

    def on_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
        seen.append(exc)
        return http_error_handler(request, exc)

    @post("/users")
    async def register(data: JSONBody[_UserRequest]) -> None:
        del data

    app = Litestar(
        [register],
        exception_handlers={ValidationException: on_validation, HTTPException: on_http},
        logging_config=None,
    )
    with TestClient(app) as client:
        yield client, seen


@pytest.mark.parametrize(
    ("body", "extra", "errors"),
    [
        (
            b'{"user": {"email": 1}}',
            {"key": "user.email", "message": "Expected `str`, got `int`"},
            {"email": ["must be a string"]},
        ),
        (
            b'{"user": {"email": "toolong"}}',
            {"key": "user.email", "message": "Expected `str` of length <= 5"},
            {"email": ["is too long (maximum is 5 characters)"]},
        ),
        (
            b'{"user": {}}',
            {"key": "user", "message": "Object missing required field `email`"},
            {"email": ["can't be blank"]},
        ),
        (
            b'{"usr": {}}',
            {"key": "data", "message": "Object contains unknown field `usr`"},
            {"usr": ["is not a known field"]},
        ),
        (
            b"[1]",
            {"key": "data", "message": "Expected `object`, got `array`"},
            {"body": ["must be an object"]},
        ),
        (b"", {"key": "data", "message": "'data'"}, {"body": ["can't be blank"]}),
    ],
)
def test_litestar_validation_exception_carries_msgspec_messages_keyed_by_field(
    body: bytes, extra: dict[str, str], errors: dict[str, list[str]]
) -> None:
    """Portico reads `ValidationException.extra`, whose shape Litestar does not document."""
    with (
        Reliance(
            "litestar", "msgspec", where="entrypoints/http/errors.py (validation_error_handler)"
        ) as litestar,
        _validation_app() as (client, seen),
    ):
        response = client.post("/users", content=body, headers={"content-type": "application/json"})
        found = getattr(seen[0], "extra", None) if seen else None
        litestar.check(
            isinstance(found, list)
            and len(found) == 1
            and isinstance(found[0], dict)
            and {k: found[0].get(k) for k in extra} == extra,
            f"the body {body!r} now raises {seen!r} with extra={found!r}, not [{extra!r}]",
        )
        litestar.check(
            (response.status_code, response.json()) == (422, {"errors": errors}),
            f"Portico now answers {body!r} with {response.status_code} {response.text}",
        )


@pytest.mark.parametrize("body", [b"{bad", b'{"user": {"email": "a"', b"\xff\xfe"])
def test_litestar_reports_malformed_json_with_msgspec_wording_in_the_detail(body: bytes) -> None:
    """A body that is not JSON is a 400 whose detail is msgspec's DecodeError message."""
    with (
        Reliance(
            "litestar", "msgspec", where="entrypoints/http/errors.py (http_error_handler)"
        ) as lib,
        _validation_app() as (client, seen),
    ):
        response = client.post("/users", content=body, headers={"content-type": "application/json"})
        lib.check(
            (response.status_code, response.json())
            == (400, {"errors": {"body": ["is not valid JSON"]}}),
            f"a malformed body now raises {seen!r}, which Portico answers with "
            f"{response.status_code} {response.text}",
        )


@pytest.mark.parametrize(
    ("body", "status", "key"),
    [
        (b'{"user": {"email": "a"}}', 201, None),
        (b'{"user": {"email": "\xff"}}', 400, "body"),
        (b"[" * 100_000, 400, "body"),
        (b'{"user": {"email": "\\u0000"}}', 422, "email"),
    ],
)
def test_litestar_reads_a_data_parameter_through_the_request_class(
    body: bytes, status: int, key: str | None
) -> None:
    """`ClientRequest.json` decodes every body, which only works if Litestar calls it."""

    @post("/users")
    async def register(data: JSONBody[_UserRequest]) -> None:
        del data

    app = Litestar(
        [register],
        request_class=ClientRequest,
        exception_handlers=dict(EXCEPTION_HANDLERS),  # type: ignore[arg-type]
        logging_config=None,
    )
    with (
        Reliance("litestar", where="entrypoints/http/client_input.py (ClientRequest)") as lib,
        TestClient(app) as client,
    ):
        response = client.post("/users", content=body, headers={"content-type": "application/json"})
        keys = list(response.json()["errors"]) if response.status_code >= 400 else [None]
        lib.check(
            (response.status_code, keys) == (status, [key]),
            f"{body[:30]!r} is now answered {response.status_code} {response.text[:200]}",
        )


class _Switches(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    enabled: bool
    count: int = 0
    channels: dict[str, bool] = msgspec.field(default_factory=dict)


@pytest.mark.parametrize(
    ("body", "status", "errors"),
    [
        (b'{"enabled": true, "count": 2, "channels": {"email": false}}', 201, None),
        (b'{"enabled": "false"}', 422, {"enabled": ["must be true or false"]}),
        (b'{"enabled": 0}', 422, {"enabled": ["must be true or false"]}),
        (b'{"enabled": true, "count": "2"}', 422, {"count": ["must be an integer"]}),
        (
            b'{"enabled": true, "channels": {"email": "no"}}',
            422,
            {"channels": ["must be true or false"]},
        ),
        (b'{"enabled": true, "extra": 1}', 422, {"extra": ["is not a known field"]}),
        (b"[true]", 422, {"body": ["must be an object"]}),
    ],
)
def test_litestar_names_a_routes_body_type_in_its_signature_model(
    body: bytes, status: int, errors: dict[str, list[str]] | None
) -> None:
    """`ClientRequest` types a body strictly by the handler's `signature_model` ``data`` field.

    Litestar converts the body leniently (``"false"`` would be a boolean); the path and the
    query must stay lenient, since they arrive as text.
    """

    @post("/switches/{owner:int}")
    async def switch(owner: int, page: int, data: JSONBody[_Switches]) -> dict[str, Any]:
        return {"owner": owner, "page": page, "enabled": data.enabled}

    app = Litestar(
        [switch],
        request_class=ClientRequest,
        exception_handlers=dict(EXCEPTION_HANDLERS),  # type: ignore[arg-type]
        logging_config=None,
    )
    with (
        Reliance("litestar", where="entrypoints/http/client_input.py (strictly_typed)") as lib,
        TestClient(app) as client,
    ):
        response = client.post(
            "/switches/7?page=2", content=body, headers={"content-type": "application/json"}
        )
        expected = (
            {"owner": 7, "page": 2, "enabled": True} if errors is None else {"errors": errors}
        )
        lib.check(
            (response.status_code, response.json()) == (status, expected),
            f"{body!r} is now answered {response.status_code} {response.text[:200]}",
        )


def test_litestar_runs_every_request_through_a_replaced_asgi_handler_with_scope_state() -> None:
    """The app wraps `Litestar.asgi_handler` in its middleware, which writes `scope["state"]`."""

    @get("/id")
    async def request_id(request: Request[Any, Any, Any]) -> str:
        return str(request.scope.get("state", {}).get("request_id"))

    with Reliance(
        "litestar",
        where="entrypoints/http/app.py (create_app) and http/middleware/request_id.py",
    ) as litestar:
        app = Litestar([request_id], logging_config=None)
        app.asgi_handler = RequestIdMiddleware(app.asgi_handler)
        with TestClient(app) as client:
            response = client.get("/id", headers={"x-request-id": "reliance-1"})
        litestar.check(
            (response.status_code, response.text, response.headers.get("x-request-id"))
            == (200, "reliance-1", "reliance-1"),
            "a handler assigned to Litestar.asgi_handler no longer serves every request with "
            f"scope['state'] set (got {response.status_code} {response.text!r})",
        )


def test_litestar_render_plugins_take_the_document_url_from_get_openapi_json_route() -> None:
    """The API reference names its document's URL by overriding a plugin method."""
    with Reliance(
        "litestar", where="entrypoints/http/controllers/docs.py (ApiReferencePlugin)"
    ) as litestar:
        with TestClient(Litestar([api_reference], logging_config=None)) as client:
            response = client.get("/docs")
        litestar.check(
            response.status_code == 200 and f'"{OPENAPI_JSON_PATH}"' in response.text,
            "ScalarRenderPlugin.render no longer takes the document's URL from "
            "get_openapi_json_route",
        )


# --- dishka --------------------------------------------------------------------------------


class _PerRequest:
    """Something provided per request scope."""


def test_dishka_litestar_integration_keeps_the_container_in_connection_state() -> None:
    """The guard, the SSE stream and the WebSocket gateway read `state.dishka_container`."""
    provider = Provider(scope=Scope.REQUEST)
    provider.provide(_PerRequest)
    guarded: list[object] = []

    async def guard(
        connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
    ) -> None:
        del handler
        guarded.append(connection.state.dishka_container)

    @get("/http")
    async def http(request: Request[Any, Any, Any]) -> str:
        container: AsyncContainer = request.state.dishka_container
        return type(await container.get(_PerRequest)).__name__

    @websocket("/ws")
    async def ws(socket: WebSocket[Any, Any, Any]) -> None:
        await socket.accept()
        async with socket.state.dishka_container() as request:
            await socket.send_text(type(await request.get(_PerRequest)).__name__)
        await socket.close()

    with Reliance(
        "dishka",
        where="entrypoints/http/auth.py (authenticate), http/realtime/gateway.py and stream.py",
    ) as dishka:
        app = Litestar([http, ws], guards=[guard], logging_config=None)
        setup_dishka(make_async_container(provider), app)
        with TestClient(app) as client:
            answer = client.get("/http")
            dishka.check(
                (answer.status_code, answer.text) == (200, "_PerRequest"),
                "request.state.dishka_container no longer serves the request scope "
                f"({answer.status_code} {answer.text!r})",
            )
            try:
                with client.websocket_connect("/ws") as socket:
                    answer_ws = socket.receive_text()
            except Exception as exc:  # noqa: BLE001 - reported as the reliance failing
                answer_ws = repr(exc)
            dishka.check(
                answer_ws == "_PerRequest",
                "a scope entered from socket.state.dishka_container no longer serves the "
                f"request scope ({answer_ws})",
            )
        dishka.check(
            len(guarded) == 2 and all(isinstance(c, AsyncContainer) for c in guarded),
            f"guards no longer see an AsyncContainer in connection.state ({guarded!r})",
        )


class _HeldPerRequest:
    """Something a request scope holds until the scope closes (a pooled connection)."""

    released = 0


async def _held_per_request() -> AsyncIterator[_HeldPerRequest]:
    yield _HeldPerRequest()
    _HeldPerRequest.released += 1


def test_dishka_request_scope_closed_early_releases_at_once_and_closes_again_harmlessly() -> None:
    """The audit stream closes its request's scope before streaming, and reads in scopes of
    its own from the app's container (entrypoints/http/realtime/audit_stream.py)."""
    provider = Provider(scope=Scope.REQUEST)
    provider.provide(_held_per_request, provides=_HeldPerRequest)
    seen: dict[str, object] = {}

    @get("/early")
    async def early(request: Request[Any, Any, Any]) -> str:
        container: AsyncContainer = request.state.dishka_container
        await container.get(_HeldPerRequest)
        await container.close()
        seen["released_before_answer"] = _HeldPerRequest.released
        app_container: AsyncContainer = request.app.state.dishka_container
        async with app_container() as own:
            seen["own_scope"] = type(await own.get(_HeldPerRequest)).__name__
        return "ok"

    with Reliance(
        "dishka",
        where="entrypoints/http/realtime/audit_stream.py (release_request_scope, AuditFollower)",
    ) as dishka:
        _HeldPerRequest.released = 0
        app = Litestar([early], logging_config=None)
        setup_dishka(make_async_container(provider), app)
        with TestClient(app) as client:
            answer = client.get("/early")
        dishka.check(
            (answer.status_code, answer.text) == (200, "ok"),
            f"closing the request's container early broke the request ({answer.status_code})",
        )
        dishka.check(
            seen.get("released_before_answer") == 1,
            "closing request.state.dishka_container no longer runs the scope's finalizers",
        )
        dishka.check(
            seen.get("own_scope") == "_HeldPerRequest",
            "app.state.dishka_container no longer opens a request scope",
        )
        dishka.check(
            _HeldPerRequest.released == 2,  # the early scope, then the own one
            "the middleware's close after an early close ran the finalizers again "
            f"({_HeldPerRequest.released} releases)",
        )


# --- granian -------------------------------------------------------------------------------


def test_granian_server_takes_the_options_serve_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    """`portico serve` builds `granian.server.Server`, the class `granian.Granian` names."""
    passed: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    class Recorder:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            passed.append((args, kwargs))

        def serve(self) -> None:
            pass

    with Reliance("granian", where="entrypoints/cli/serve.py (_run)") as granian_lib:
        from granian.server import Server  # noqa: PLC0415 - under the reliance

        granian_lib.check(
            Server is granian.Granian,
            "granian.server.Server is no longer the class exported as granian.Granian",
        )
        monkeypatch.setattr(serve, "Server", Recorder)
        settings = load_settings({"APP_SERVER": "granian"}, env_file=Path("/nonexistent/.env"))
        serve._run(settings, address="127.0.0.1", port=8000, workers=None)
        args, kwargs = passed[0]
        try:
            inspect.signature(Server).bind(*args, **kwargs)
        except TypeError as exc:
            granian_lib.fail(f"granian.server.Server no longer accepts what serve passes: {exc}")


def test_granian_logs_to_the_loggers_portico_routes_into_loguru(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Portico configures granian's loggers by name, `_granian` (private) among them."""
    names = ("_granian", "granian.access")
    applied: list[dict[str, Any]] = []
    monkeypatch.setattr(logging.config, "dictConfig", applied.append)
    with Reliance(
        "granian", where="entrypoints/cli/serve.py (_LOGGING_INTO_LOGURU) and entrypoints/logs.py"
    ) as granian_lib:
        from granian import log  # noqa: PLC0415 - under the reliance

        granian_lib.check(
            (log.logger.name, log.access_logger.name) == names,
            f"granian now logs to {log.logger.name!r} and {log.access_logger.name!r}, "
            f"not {names!r}",
        )
        log.configure_logging(log.LogLevels.info, _LOGGING_INTO_LOGURU, enabled=True)
        loggers = applied[0]["loggers"] if applied else {}
        granian_lib.check(
            all(loggers.get(name, {}).get("handlers") == ["loguru"] for name in names)
            and applied[0]["handlers"] == _LOGGING_INTO_LOGURU["handlers"],
            "granian's logging set-up no longer hands log_dictconfig's loggers and handlers "
            f"to logging.config.dictConfig (it passed {applied!r})",
        )
