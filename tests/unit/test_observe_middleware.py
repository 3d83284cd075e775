"""The one observation hook: each answered HTTP request reaches every observer, once, by its
route template; requests in flight and the limiter's queue wait are counted beside it."""

import asyncio
import contextlib
from typing import Any

from litestar import Litestar, get
from litestar.testing import AsyncTestClient
from litestar.types import Receive, Scope, Send

from entrypoints.http.middleware.concurrency_limit import ConcurrencyLimitMiddleware
from entrypoints.http.middleware.observe import (
    UNMATCHED_ROUTE,
    ObserveMiddleware,
    RequestObservation,
    RequestObservers,
)
from tests.support.asgi import partial_scope


class Recording:
    """An observer that keeps what it was told."""

    def __init__(self) -> None:
        self.seen: list[RequestObservation] = []

    def observe(self, observation: RequestObservation) -> None:
        self.seen.append(observation)


class Counting:
    """An in-flight counter that remembers the most it reached."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0

    def inc(self) -> None:
        self.now += 1
        self.most = max(self.most, self.now)

    def dec(self) -> None:
        self.now -= 1


@get("/api/articles/{slug:str}", sync_to_thread=False)
def article(slug: str) -> dict[str, str]:
    return {"slug": slug}


@get("/api/boom", sync_to_thread=False)
def boom() -> None:
    raise RuntimeError("handler bug")


def observed_app(observers: RequestObservers) -> Litestar:
    app = Litestar([article, boom], debug=False, logging_config=None)
    app.asgi_handler = ObserveMiddleware(app.asgi_handler, observers=observers)
    return app


async def test_each_request_reaches_every_observer_by_its_route_template() -> None:
    first, second = Recording(), Recording()
    observers = RequestObservers()
    observers.add(first)
    observers.add(second)
    async with AsyncTestClient(observed_app(observers)) as client:
        await client.get("/api/articles/how-to-train-your-dragon")
        await client.get("/api/articles/another")
        await client.get("/wp-login.php")
        await client.post("/api/articles/x")
        await client.get("/api/boom")
    routes = [(o.route, o.method, o.status) for o in first.seen]
    assert routes == [
        ("/api/articles/{slug}", "GET", 200),
        ("/api/articles/{slug}", "GET", 200),
        (UNMATCHED_ROUTE, "GET", 404),
        (UNMATCHED_ROUTE, "POST", 405),
        ("/api/boom", "GET", 500),
    ]
    assert second.seen == first.seen
    assert all(0 < o.seconds < 5 for o in first.seen)


async def _scope_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("died before answering")


async def test_a_request_that_died_unanswered_is_observed_as_500() -> None:
    seen = Recording()
    observers = RequestObservers()
    observers.add(seen)
    middleware = ObserveMiddleware(_scope_app, observers=observers)
    scope = partial_scope(type="http", path="/x", method="PUT", headers=[])

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    async def send(_: Any) -> None:
        return None

    with contextlib.suppress(RuntimeError):
        await middleware(scope, receive, send)
    assert [(o.route, o.method, o.status) for o in seen.seen] == [(UNMATCHED_ROUTE, "PUT", 500)]


async def test_latency_ends_at_the_first_byte_and_in_flight_counts_the_request() -> None:
    seen = Recording()
    in_flight = Counting()
    observers = RequestObservers()
    observers.add(seen)
    observers.in_flight = in_flight

    async def streaming(scope: Scope, receive: Receive, send: Send) -> None:
        assert in_flight.now == 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(0.3)
        await send({"type": "http.response.body", "body": b"late", "more_body": False})

    scope = partial_scope(type="http", path="/s", method="GET", headers=[])

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    async def send(_: Any) -> None:
        return None

    await ObserveMiddleware(streaming, observers=observers)(scope, receive, send)
    (observation,) = seen.seen
    assert observation.seconds < 0.2, "the stream's length is not its latency"
    assert (in_flight.now, in_flight.most) == (0, 1)


async def test_without_observers_requests_pass_untouched() -> None:
    calls: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append("app")

    observers = RequestObservers()
    assert not observers
    scope = partial_scope(type="http", path="/x", method="GET", headers=[])
    await ObserveMiddleware(app, observers=observers)(scope, None, None)  # type: ignore[arg-type]
    assert calls == ["app"]


async def test_only_requests_that_waited_for_a_place_report_their_wait() -> None:
    waits: list[float] = []
    observers = RequestObservers()
    observers.queue_wait = waits.append
    release = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/hold":
            await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    limited = ConcurrencyLimitMiddleware(app, limit=1, max_body_bytes=64, observers=observers)

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_: Any) -> None:
        return None

    def request(path: str) -> Scope:
        return partial_scope(type="http", path=path, method="GET", headers=[])

    await limited(request("/alone"), receive, send)
    assert waits == [], "admitted at once: no wait to report"
    holder = asyncio.create_task(limited(request("/hold"), receive, send))
    await asyncio.sleep(0.01)
    waiter = asyncio.create_task(limited(request("/next"), receive, send))
    await asyncio.sleep(0.1)
    release.set()
    await asyncio.gather(holder, waiter)
    assert len(waits) == 1
    assert waits[0] >= 0.09


class Broken:
    """An observer that breaks its contract."""

    def observe(self, observation: RequestObservation) -> None:
        raise ValueError("observer bug")


async def test_a_broken_observer_fails_no_request_and_silences_no_other() -> None:
    after = Recording()
    observers = RequestObservers()
    observers.add(Broken())
    observers.add(after)
    async with AsyncTestClient(observed_app(observers)) as client:
        response = await client.get("/api/articles/still-served")
    assert response.status_code == 200
    assert [o.route for o in after.seen] == ["/api/articles/{slug}"]
