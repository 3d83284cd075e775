"""The one place the HTTP requests are observed: each answered request is told to observers.

Observers plug in without touching the middleware: `request_observers(app).add(observer)`
before the app serves (in a start-up hook at the latest). The Prometheus metrics are one
such observer when METRICS_MODE is not off.
"""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from litestar import Litestar
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from loguru import logger

UNMATCHED_ROUTE = "unmatched"
"""The route of a request no route template matched (404, 405 and OPTIONS answered early),
so a scanner's paths never become labels."""
_STATE_KEY = "request_observers"


@dataclass(frozen=True, slots=True)
class RequestObservation:
    """One answered HTTP request.

    `route` is the template of the route that answered (`/api/articles/{slug}`), never the
    raw path, or `UNMATCHED_ROUTE`; `status` the status sent (500 if none was);
    `seconds` the time from the request's arrival to its response's first byte (a stream
    or a download counts until it starts, not until it ends).
    """

    route: str
    method: str
    status: int
    seconds: float


class RequestObserver(Protocol):
    """Told about every answered request, once, after it was answered."""

    def observe(self, observation: RequestObservation) -> None:
        """Take note; synchronous, and it must neither block nor raise."""
        ...


class InFlightCounter(Protocol):
    """Counts the requests being handled: one more when one arrives, one fewer when it ends."""

    def inc(self) -> None:
        """One more."""
        ...

    def dec(self) -> None:
        """One fewer."""
        ...


class RequestObservers:
    """The observers of one app, its counter of requests in flight and its queue wait, if any."""

    def __init__(self) -> None:
        self._observers: tuple[RequestObserver, ...] = ()
        self.in_flight: InFlightCounter | None = None
        self.queue_wait: Callable[[float], None] | None = None
        """Told how long a request waited for its place under the concurrency limit."""

    def add(self, observer: RequestObserver) -> None:
        """Tell `observer` about every request answered from now on."""
        self._observers = (*self._observers, observer)

    def __iter__(self) -> Iterator[RequestObserver]:
        return iter(self._observers)

    def __bool__(self) -> bool:
        return bool(self._observers) or self.in_flight is not None


def request_observers(app: Litestar) -> RequestObservers:
    """The app's observers, where `create_app` put them."""
    observers: RequestObservers = app.state[_STATE_KEY]
    return observers


def install_request_observers(app: Litestar, observers: RequestObservers) -> None:
    """Put the observers where `request_observers` finds them."""
    app.state[_STATE_KEY] = observers


class ObserveMiddleware:
    """Times each HTTP request and tells every observer how it went.

    With no observer and no in-flight counter it only hands the request on. Otherwise it
    reads the clock at the request's arrival and at its response's first byte, and after
    the response the route template Litestar's router left in the scope. An observer that
    raises despite its contract is logged, and the others are still told. WebSockets are
    not requests here: the connection hub counts them.
    """

    def __init__(self, app: ASGIApp, *, observers: RequestObservers) -> None:
        self._app = app
        self._observers = observers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request, then report it, even when it failed."""
        observers = self._observers
        if scope["type"] != ScopeType.HTTP or not observers:
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        first_byte = 0.0
        status = 500

        async def send_and_time(message: Message) -> None:
            nonlocal first_byte, status
            if message["type"] == "http.response.start":
                first_byte = time.perf_counter()
                status = message["status"]
            await send(message)

        in_flight = observers.in_flight
        if in_flight is not None:
            in_flight.inc()
        try:
            await self._app(scope, receive, send_and_time)
        finally:
            if in_flight is not None:
                in_flight.dec()
            observation = RequestObservation(
                route=scope.get("path_template") or UNMATCHED_ROUTE,
                method=scope["method"],
                status=status,
                seconds=(first_byte or time.perf_counter()) - started,
            )
            for observer in observers:
                try:
                    observer.observe(observation)
                except Exception:  # noqa: BLE001 - a broken observer must not fail requests
                    logger.exception("request observer {} failed", type(observer).__name__)
