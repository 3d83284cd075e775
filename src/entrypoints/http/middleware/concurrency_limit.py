"""Bounds how many HTTP requests a process handles at once; the rest wait in arrival order."""

import asyncio
import time
from collections import deque
from collections.abc import Iterable

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

from entrypoints.http.middleware.observe import RequestObservers

EXEMPT_PREFIXES = ("/health/",)


class ConcurrencyLimitMiddleware:
    """At most `limit` requests are handled at once; the others queue, first come first served.

    One event loop serves every request of the process. Past a few dozen requests in
    flight it only interleaves them more finely: each waits behind all the others at each
    of its database round trips, so the slowest take much longer than the median, and
    PostgreSQL runs as many backends at once. Admitted in order, the same throughput comes
    with a shorter tail (`bench/README.md`), and a process never asks its pool for more
    connections than requests it admits.

    - A request takes its place once its body has arrived, so a slow upload never holds
      one. In the app, `BodyGuardMiddleware` sits in front and has already read the body,
      inside the process's body budget and deadline, so here it is one message replayed,
      not a second copy. Used alone, at most `max_body_bytes` a request are held back this
      way, with no bound on time or in total, and a larger body is passed on as it comes
      for the app to refuse.
    - The place is given back when the response starts, so a stream (SSE) holds none
      while it streams; and when the app fails.
    - WebSockets and the health probes are never queued: a probe must answer under load.
    - A request that found every place taken reports how long it waited to
      `observers.queue_wait`, when set; one admitted at once reads no clock.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        max_body_bytes: int,
        exempt_prefixes: Iterable[str] = EXEMPT_PREFIXES,
        observers: RequestObservers | None = None,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._app = app
        self._places = asyncio.Semaphore(limit)
        self._max_body_bytes = max_body_bytes
        self._exempt = tuple(exempt_prefixes)
        self._observers = RequestObservers() if observers is None else observers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Admit the request in turn, then hand it on."""
        if scope["type"] != ScopeType.HTTP or scope["path"].startswith(self._exempt):
            await self._app(scope, receive, send)
            return
        receive = await _with_body_read(receive, self._max_body_bytes)
        report_wait = self._observers.queue_wait
        if report_wait is not None and self._places.locked():
            waiting_since = time.perf_counter()
            await self._places.acquire()
            report_wait(time.perf_counter() - waiting_since)
        else:
            await self._places.acquire()
        held = True

        def give_back() -> None:
            nonlocal held
            if held:
                held = False
                self._places.release()

        async def send_and_give_back(message: Message) -> None:
            if message["type"] == "http.response.start":
                give_back()
            await send(message)

        try:
            await self._app(scope, receive, send_and_give_back)
        finally:
            give_back()


async def _with_body_read(receive: Receive, limit: int) -> Receive:
    """Read the request body now (up to `limit` bytes) and return a `receive` that replays it."""
    read: deque[ReceiveMessage] = deque()
    size = 0
    while True:
        message = await receive()
        read.append(message)
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        if not message.get("more_body", False) or size > limit:
            break

    async def replay() -> ReceiveMessage:
        if read:
            return read.popleft()
        return await receive()

    return replay
