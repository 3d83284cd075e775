"""The body guard reads a body within the process's budget and its deadline, as pure ASGI."""

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from litestar.types import Message, ReceiveMessage, Scope
from loguru import logger

from entrypoints.http.middleware.body_guard import BodyBudget, BodyGuardMiddleware
from tests.support.asgi import partial_scope

KB = 1024


def post(length: int | None, *, chunked: bool = False, method: str = "POST") -> Scope:
    headers = [(b"content-type", b"application/json")]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    if chunked:
        headers.append((b"transfer-encoding", b"chunked"))
    return partial_scope(
        type="http",
        method=method,
        path="/api/users",
        raw_path=b"/api/users",
        headers=headers,
        state={},
    )


def client(*chunks: bytes, then: str = "wait") -> Callable[[], Awaitable[ReceiveMessage]]:
    """Sends `chunks`; then waits forever (`wait`), ends the body (`end`) or leaves (`leave`)."""
    pending: list[ReceiveMessage] = [
        {"type": "http.request", "body": chunk, "more_body": True} for chunk in chunks
    ]
    if then == "end":
        pending.append({"type": "http.request", "body": b"", "more_body": False})
    if then == "leave":
        pending.append({"type": "http.disconnect"})

    async def receive() -> ReceiveMessage:
        if pending:
            return pending.pop(0)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    return receive


class Recorder:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int | None:
        starts = [m["status"] for m in self.messages if m["type"] == "http.response.start"]
        return starts[0] if starts else None

    def header(self, name: bytes) -> bytes | None:
        start = next(m for m in self.messages if m["type"] == "http.response.start")
        return dict(start.get("headers", ())).get(name)

    def json(self) -> Any:
        bodies = (m["body"] for m in self.messages[1:] if m["type"] == "http.response.body")
        return json.loads(b"".join(bodies))


class EchoApp:
    """Reads the body the way Litestar does and answers 200; counts what it saw."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, _scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}", "more_body": False})


def guard(app: Any, budget: BodyBudget, *, timeout: float = 5.0) -> BodyGuardMiddleware:
    return BodyGuardMiddleware(
        app, max_body_bytes=64 * KB, budget=budget, read_timeout_seconds=timeout
    )


@pytest.fixture
def logged() -> Iterator[list[Any]]:
    lines: list[Any] = []
    sink = logger.add(lambda m: lines.append(m.record), level="DEBUG")
    yield lines
    logger.remove(sink)


async def test_a_body_in_pieces_reaches_the_app_whole_in_one_message() -> None:
    app = EchoApp()
    budget = BodyBudget(256 * KB)
    recorder = Recorder()
    await guard(app, budget)(post(9), client(b"abc", b"def", b"ghi", then="end"), recorder)
    assert recorder.status == 200
    assert app.bodies == [b"abcdefghi"]
    assert budget.in_use == 0


async def test_a_chunked_body_is_counted_against_the_limit_as_it_comes() -> None:
    app = EchoApp()
    recorder = Recorder()
    pieces = [b"x" * (16 * KB)] * 5
    await guard(app, BodyBudget(256 * KB))(post(None, chunked=True), client(*pieces), recorder)
    assert recorder.status == 413
    assert app.bodies == []


async def test_bodies_past_the_budget_get_503_with_retry_after_and_the_budget_comes_back() -> None:
    app = EchoApp()
    app.release.clear()
    budget = BodyBudget(100 * KB)
    limited = guard(app, budget)
    first, second, third = Recorder(), Recorder(), Recorder()
    holding = asyncio.create_task(limited(post(60 * KB), client(b"a" * 60 * KB, then="end"), first))
    await asyncio.sleep(0.01)
    assert budget.in_use == 60 * KB  # held while the app holds the body, not just while read
    await limited(post(60 * KB), client(b"b" * 60 * KB, then="end"), second)
    assert second.status == 503
    assert second.header(b"retry-after") == b"2"
    assert second.json() == {
        "errors": {"server": ["is busy receiving other requests; retry shortly"]}
    }
    app.release.set()
    await holding
    assert first.status == 200
    assert budget.in_use == 0
    await limited(post(60 * KB), client(b"c" * 60 * KB, then="end"), third)
    assert third.status == 200


async def test_a_body_slower_than_the_deadline_gets_408_and_frees_its_reservation(
    logged: list[Any],
) -> None:
    app = EchoApp()
    budget = BodyBudget(256 * KB)
    recorder = Recorder()
    await asyncio.wait_for(
        guard(app, budget, timeout=0.05)(post(10 * KB), client(b"x" * KB), recorder), timeout=2
    )
    assert recorder.status == 408
    assert recorder.header(b"connection") == b"close"
    assert recorder.json() == {"errors": {"body": ["took too long to arrive"]}}
    assert app.bodies == []
    assert budget.in_use == 0
    assert [r["level"].name for r in logged] == ["INFO"]


async def test_the_deadline_counts_the_whole_body_not_the_gaps_between_pieces() -> None:
    """A client trickling a byte every 20 ms never waits 50 ms at once, yet is cut off."""

    async def trickle() -> ReceiveMessage:
        await asyncio.sleep(0.02)
        return {"type": "http.request", "body": b"x", "more_body": True}

    recorder = Recorder()
    guarded = guard(EchoApp(), BodyBudget(256 * KB), timeout=0.1)
    await asyncio.wait_for(guarded(post(10 * KB), trickle, recorder), timeout=2)
    assert recorder.status == 408


async def test_a_client_leaving_mid_body_is_one_info_line_and_a_499_never_the_app(
    logged: list[Any],
) -> None:
    app = EchoApp()
    budget = BodyBudget(256 * KB)
    recorder = Recorder()
    await guard(app, budget)(post(10 * KB), client(b"x" * KB, then="leave"), recorder)
    assert app.bodies == []
    assert recorder.status == 499
    assert budget.in_use == 0
    assert len(logged) == 1
    record = logged[0]
    assert record["level"].name == "INFO"
    assert record["exception"] is None
    assert record["message"] == (
        "client disconnected after 1024 of 10240 body bytes on POST /api/users"
    )


async def test_a_send_that_fails_because_the_client_is_gone_is_not_an_error() -> None:
    async def gone(_message: Message) -> None:
        raise OSError("connection closed")

    guarded = guard(EchoApp(), BodyBudget(256 * KB))
    await guarded(post(10 * KB), client(b"x", then="leave"), gone)


async def test_requests_without_a_body_and_other_scopes_pass_straight_through() -> None:
    app = EchoApp()
    budget = BodyBudget(1024)
    get = post(None, method="GET")
    recorder = Recorder()
    body_end = client(then="end")
    await guard(app, budget)(get, body_end, recorder)
    assert recorder.status == 200
    assert budget.in_use == 0


def test_a_budget_refuses_what_does_not_fit(logged: list[Any]) -> None:
    budget = BodyBudget(10)
    assert budget.try_reserve(6)
    assert not budget.try_reserve(5)
    assert not budget.try_reserve(5)
    assert budget.try_reserve(4)
    assert budget.in_use == 10
    assert [r["level"].name for r in logged] == ["WARNING"]  # once per ten seconds


async def test_a_drained_burst_returns_the_heap_to_the_system_once() -> None:
    """A quarter of the budget held at once is a burst; trimming waits until all is given back."""
    trims: list[int] = []

    def trim(pad: int) -> int:
        trims.append(pad)
        return 1

    budget = BodyBudget(400 * KB, trim=trim)
    assert budget.try_reserve(60 * KB)
    budget.release(60 * KB)
    await asyncio.sleep(0.05)
    assert trims == [], "a small body is not a burst"
    for _ in range(2):
        assert budget.try_reserve(60 * KB)
    budget.release(60 * KB)
    await asyncio.sleep(0.05)
    assert trims == [], "still holding a body"
    budget.release(60 * KB)
    for _ in range(500):  # the trim runs in a thread: up to 5 s on a loaded machine
        if trims:
            break
        await asyncio.sleep(0.01)
    assert trims == [0]
    assert budget.try_reserve(10 * KB)
    budget.release(10 * KB)
    await asyncio.sleep(0.05)
    assert trims == [0], "the burst is forgotten once trimmed"
