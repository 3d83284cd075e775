"""The security headers middleware around a small Litestar app: which response gets what."""

from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from litestar import Litestar, MediaType, Response, WebSocket, get, post, websocket
from litestar.response import ServerSentEvent
from litestar.testing import TestClient
from litestar.types import Message, Receive, ReceiveMessage, Scope, Send

from entrypoints.http.middleware.security_headers import (
    API_POLICY,
    STRICT_TRANSPORT,
    SecurityHeadersMiddleware,
)
from tests.support.asgi import partial_scope

PAGE_POLICY = "default-src 'none'; script-src https://cdn.example/app.js; frame-ancestors 'none'"


class TokenBody(msgspec.Struct):
    token: str


@get("/page", media_type=MediaType.HTML)
async def page() -> str:
    return "<p>hi</p>"


@post("/token", status_code=200)
async def token_response() -> Response[TokenBody]:
    return Response(TokenBody(token="t"))


@get("/token-struct")
async def token_struct() -> TokenBody:
    return TokenBody(token="t")


@get("/plain")
async def plain() -> dict[str, str]:
    return {"a": "b"}


@get("/events")
async def events() -> ServerSentEvent:
    async def ticks() -> AsyncIterator[str]:
        for tick in ("one", "two"):
            yield tick

    return ServerSentEvent(ticks())


@websocket("/ws")
async def echo(socket: WebSocket[Any, Any, Any]) -> None:
    await socket.accept()
    await socket.send_text(await socket.receive_text())
    await socket.close()


def client(*, strict_transport: bool = False) -> TestClient[Litestar]:
    app = Litestar([page, token_response, token_struct, plain, events, echo], logging_config=None)
    app.asgi_handler = SecurityHeadersMiddleware(
        app.asgi_handler,
        routes=app.routes,
        page_policy=PAGE_POLICY,
        token_bodies=(TokenBody,),
        strict_transport=strict_transport,
    )
    return TestClient(app)


def test_every_response_says_nosniff_no_referrer_and_no_framing() -> None:
    with client() as http:
        responses = [http.get("/plain"), http.get("/missing"), http.delete("/plain")]
    assert [r.status_code for r in responses] == [200, 404, 405]
    for response in responses:
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers.get_list("content-security-policy") == [API_POLICY]
        assert "cache-control" not in response.headers
        assert "strict-transport-security" not in response.headers


def test_an_html_route_gets_the_page_policy_and_nothing_else_does() -> None:
    """Relies on Litestar naming the matched handler in the scope it shares with middleware."""
    with client() as http:
        html = http.get("/page")
        json = http.get("/plain")
    assert html.headers.get_list("content-security-policy") == [PAGE_POLICY]
    assert json.headers.get_list("content-security-policy") == [API_POLICY]


@pytest.mark.parametrize(("method", "path"), [("POST", "/token"), ("GET", "/token-struct")])
def test_a_route_answering_with_a_token_body_is_not_stored(method: str, path: str) -> None:
    with client() as http:
        response = http.request(method, path)
    assert response.status_code == 200
    assert response.headers.get_list("cache-control") == ["no-store"]
    assert response.headers["content-security-policy"] == API_POLICY


def test_strict_transport_security_only_when_asked() -> None:
    with client(strict_transport=True) as http:
        responses = [http.get("/plain"), http.get("/page"), http.get("/missing")]
    for response in responses:
        assert response.headers.get_list("strict-transport-security") == [STRICT_TRANSPORT]


def test_a_server_sent_event_stream_still_streams_with_the_headers() -> None:
    with client() as http, http.stream("GET", "/events") as response:
        body = "".join(response.iter_text())
        headers = response.headers
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["x-content-type-options"] == "nosniff"
    assert "data: one" in body
    assert "data: two" in body


def test_a_websocket_passes_untouched() -> None:
    with client() as http, http.websocket_connect("/ws") as socket:
        socket.send_text("ping")
        assert socket.receive_text() == "ping"


async def started(headers: list[tuple[bytes, bytes]] | None) -> list[Message]:
    """What the middleware sends for a bare app (no route matched) starting with `headers`."""
    sent: list[Message] = []

    async def bare_app(scope: Scope, receive: Receive, send: Send) -> None:
        start: dict[str, Any] = {"type": "http.response.start", "status": 204}
        if headers is not None:
            start["headers"] = headers
        await send(start)  # type: ignore[arg-type]
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def record(message: Message) -> None:
        sent.append(message)

    async def nothing() -> ReceiveMessage:
        raise AssertionError

    middleware = SecurityHeadersMiddleware(
        bare_app, routes=[], page_policy=PAGE_POLICY, token_bodies=(), strict_transport=False
    )
    await middleware(partial_scope(type="http", headers=[]), nothing, record)
    return sent


async def test_a_response_start_without_headers_gets_them() -> None:
    # ASGI makes `headers` optional, Litestar's TypedDict does not: its absence is the case.
    sent = await started(None)
    assert sent[0]["type"] == "http.response.start"
    assert (b"content-security-policy", API_POLICY.encode()) in sent[0]["headers"]
    assert sent[1]["type"] == "http.response.body"


async def test_an_unmatched_response_bringing_its_own_policy_keeps_it_alone() -> None:
    own = (b"Content-Security-Policy", PAGE_POLICY.encode())
    start = (await started([own]))[0]
    assert start["type"] == "http.response.start"
    headers = start["headers"]
    assert [value for name, value in headers if name.lower() == b"content-security-policy"] == [
        PAGE_POLICY.encode()
    ]
    assert (b"x-content-type-options", b"nosniff") in headers
