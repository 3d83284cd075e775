"""The concurrency limit admits requests in turn, and never holds a place it should not."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from litestar.types import Message, ReceiveMessage, Scope, Send

from entrypoints.http.middleware.concurrency_limit import ConcurrencyLimitMiddleware
from tests.support.asgi import partial_scope


def http_scope(path: str = "/api/articles", **extra: object) -> Scope:
    return partial_scope(type="http", path=path, method="GET", headers=[], **extra)


def body_of(*chunks: bytes) -> Callable[[], Awaitable[ReceiveMessage]]:
    """A client that sends `chunks` as the body, then waits as a connected client does."""
    pending: list[ReceiveMessage] = [
        {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
        for index, chunk in enumerate(chunks or (b"",))
    ]

    async def receive() -> ReceiveMessage:
        if pending:
            return pending.pop(0)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    return receive


class Recorder:
    """What the client was sent."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int | None:
        starts = [m["status"] for m in self.messages if m["type"] == "http.response.start"]
        return starts[0] if starts else None


async def respond(send: Send, body: bytes = b"ok") -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def test_no_more_than_the_limit_run_at_once_and_they_start_in_arrival_order() -> None:
    running = 0
    most = 0
    started: list[int] = []

    async def app(scope: Any, _receive: Any, send: Any) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        started.append(scope["n"])
        await asyncio.sleep(0.01)
        running -= 1
        await respond(send)

    limited = ConcurrencyLimitMiddleware(app, limit=3, max_body_bytes=1024)
    recorders = [Recorder() for _ in range(12)]
    await asyncio.gather(
        *(limited(http_scope(n=n), body_of(), recorder) for n, recorder in enumerate(recorders))
    )
    assert most == 3
    assert started == list(range(12))
    assert {recorder.status for recorder in recorders} == {200}


async def test_health_probes_and_websockets_are_never_queued() -> None:
    release = asyncio.Event()

    async def app(scope: Any, _receive: Any, send: Any) -> None:
        if scope["path"] == "/api/slow":
            await release.wait()
        await respond(send)

    limited = ConcurrencyLimitMiddleware(app, limit=1, max_body_bytes=1024)
    slow = asyncio.create_task(limited(http_scope("/api/slow"), body_of(), Recorder()))
    await asyncio.sleep(0)
    probe, socket = Recorder(), Recorder()
    await asyncio.wait_for(limited(http_scope("/health/live"), body_of(), probe), timeout=1)
    await asyncio.wait_for(
        limited(partial_scope(type="websocket", path="/ws"), body_of(), socket), timeout=1
    )
    assert probe.status == 200
    assert socket.status == 200
    release.set()
    await slow


async def test_a_started_response_gives_its_place_back_while_it_streams() -> None:
    stream_open = asyncio.Event()
    stop_streaming = asyncio.Event()

    async def app(scope: Any, _receive: Any, send: Any) -> None:
        if scope["path"] == "/api/stream":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            stream_open.set()
            await stop_streaming.wait()
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        await respond(send)

    limited = ConcurrencyLimitMiddleware(app, limit=1, max_body_bytes=1024)
    stream = asyncio.create_task(limited(http_scope("/api/stream"), body_of(), Recorder()))
    await stream_open.wait()
    other = Recorder()
    await asyncio.wait_for(limited(http_scope(), body_of(), other), timeout=1)
    assert other.status == 200
    stop_streaming.set()
    await stream


async def test_a_slow_upload_holds_no_place_until_its_body_has_arrived() -> None:
    last_chunk = asyncio.Event()
    bodies: list[bytes] = []

    async def slow_client() -> ReceiveMessage:
        if not last_chunk.is_set():
            await last_chunk.wait()
            return {"type": "http.request", "body": b"-end", "more_body": False}
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    first_chunk_sent = False

    async def uploading() -> ReceiveMessage:
        nonlocal first_chunk_sent
        if not first_chunk_sent:
            first_chunk_sent = True
            return {"type": "http.request", "body": b"start", "more_body": True}
        return await slow_client()

    async def app(_scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        bodies.append(body)
        await respond(send)

    limited = ConcurrencyLimitMiddleware(app, limit=1, max_body_bytes=1024)
    upload = asyncio.create_task(limited(http_scope(), uploading, Recorder()))
    await asyncio.sleep(0.01)
    quick = Recorder()
    await asyncio.wait_for(limited(http_scope(), body_of(b"{}"), quick), timeout=1)
    assert quick.status == 200
    last_chunk.set()
    await upload
    assert bodies == [b"{}", b"start-end"]


async def test_a_body_over_the_limit_is_not_held_back_but_passed_on_as_it_comes() -> None:
    chunks = [b"x" * 6, b"y" * 6, b"z" * 6, b"end"]
    rest_may_come = asyncio.Event()
    seen: list[bytes] = []
    sent: list[bytes] = []

    async def client() -> ReceiveMessage:
        index = len(sent)
        if index >= 2:
            await rest_may_come.wait()
        sent.append(chunks[index])
        return {"type": "http.request", "body": chunks[index], "more_body": index < 3}

    async def app(_scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            seen.append(message["body"])
            if len(seen) == 2:
                rest_may_come.set()
            if not message["more_body"]:
                break
        await respond(send)

    limited = ConcurrencyLimitMiddleware(app, limit=1, max_body_bytes=10)
    recorder = Recorder()
    await asyncio.wait_for(limited(http_scope(), client, recorder), timeout=1)
    assert seen == chunks
    assert recorder.status == 200


async def test_a_failing_request_gives_its_place_back() -> None:
    async def app(scope: Any, _receive: Any, send: Any) -> None:
        if scope["path"] == "/api/boom":
            raise RuntimeError("boom")
        await respond(send)

    limited = ConcurrencyLimitMiddleware(app, limit=1, max_body_bytes=1024)
    with pytest.raises(RuntimeError):
        await limited(http_scope("/api/boom"), body_of(), Recorder())
    after = Recorder()
    await asyncio.wait_for(limited(http_scope(), body_of(), after), timeout=1)
    assert after.status == 200


def test_a_limit_below_one_is_refused() -> None:
    async def app(_scope: Any, _receive: Any, _send: Any) -> None:
        return None

    with pytest.raises(ValueError, match="at least 1"):
        ConcurrencyLimitMiddleware(app, limit=0, max_body_bytes=1024)
