"""Refuses a bad request body before anything reads it, then reads it within bounds.

Bounds on a body: its size (413), its media type (415), the time it may take to arrive
(408), and the bytes the whole process holds for bodies at once (503). A client that leaves
mid-body is logged once at INFO, never as an error. The routes that stream their body
(uploads) opt out of the size, type and buffering, and keep only the pace (`StreamedBodyRoutes`).
"""

import asyncio
import contextlib
import ctypes
import time
from collections.abc import Callable, Iterable

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send
from loguru import logger

from entrypoints.http.errors import (
    CLIENT_DISCONNECTED_STATUS,
    BodyStalledError,
    envelope_bytes,
    log_client_disconnect,
    mark_client_disconnected,
)
from entrypoints.http.middleware.streamed_routes import StreamedBodyRoutes

JSON_MEDIA_TYPES = frozenset({"application/json"})
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
_NO_BODY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_WARN_EVERY_SECONDS = 10.0
_BURST_FRACTION = 4
"""A burst: a quarter of the budget held at once; once it has drained, the heap is trimmed."""


def _find_malloc_trim() -> Callable[[int], int] | None:
    """The C library's `malloc_trim` (glibc), or None where the C library has none (musl, macOS)."""
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


_MALLOC_TRIM = _find_malloc_trim()


class BodyBudget:
    """The request-body bytes one process holds at once.

    A request reserves its declared Content-Length (the per-request maximum when it
    declares none) before a byte of its body is read, and keeps it until its response
    ends, since the app holds the body that long; so the queue behind the concurrency
    limit is inside the budget too. A reservation that does not fit is refused at once,
    never queued: see `BodyGuardMiddleware`.

    When a burst (a quarter of the budget or more held at once) has drained, glibc's
    `malloc_trim` runs once in a thread: the bodies' chunks were freed into the C heap,
    which keeps them (about 70 MB a minute after 900 slow bodies under uvicorn) until it
    is trimmed. `trim` replaces it, for tests.
    """

    def __init__(
        self, total_bytes: int, *, trim: Callable[[int], int] | None = _MALLOC_TRIM
    ) -> None:
        if total_bytes < 1:
            raise ValueError("the budget must be at least one byte")
        self.total_bytes = total_bytes
        self.in_use = 0
        self._peak = 0
        self._trim = trim
        self._refused_since_warning = 0
        self._warned_at = -_WARN_EVERY_SECONDS

    def try_reserve(self, size: int) -> bool:
        """Take `size` bytes of the budget, if they are free."""
        if self.in_use + size > self.total_bytes:
            self._refused()
            return False
        self.in_use += size
        self._peak = max(self._peak, self.in_use)
        return True

    def release(self, size: int) -> None:
        """Give `size` bytes back; after a burst, return the freed heap to the system."""
        self.in_use -= size
        if self.in_use == 0 and self._peak * _BURST_FRACTION >= self.total_bytes:
            self._peak = 0
            if self._trim is not None:
                # A thread, since it takes tens of milliseconds on a heap of 100 MB.
                asyncio.get_running_loop().run_in_executor(None, self._trim, 0)

    def _refused(self) -> None:
        self._refused_since_warning += 1
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY_SECONDS:
            logger.warning(
                "request body budget of {total} bytes is full; refused {count} with 503",
                total=self.total_bytes,
                count=self._refused_since_warning,
            )
            self._warned_at = now
            self._refused_since_warning = 0


class _DisconnectedError(Exception):
    """The client went away before its body had arrived."""


class _TooLongError(Exception):
    """More body came than the request declared or the limit allows."""


class BodyGuardMiddleware:
    """Checks the headers of every request that carries a body, then reads it within bounds.

    - A Content-Length over the limit gets 413 at once; one that is not a number gets 400.
      Bodies without one (chunked) are counted as they are read, and refused with 413 past
      the limit; Litestar's ``request_max_body_size`` is set to the same limit.
    - A body whose Content-Type is not JSON (``application/json`` or ``+json``) gets 415:
      the API speaks JSON only, and guessing would accept form posts meant for elsewhere.
      Only the paths in `form_paths` (the pages' forms) also take an HTML form
      (``application/x-www-form-urlencoded``).
    - The body is then read whole before the request goes on (to the concurrency limit,
      which so never waits on a client), into one buffer sized by its Content-Length,
      inside the process's `BodyBudget`. When the budget is full the request gets 503 with
      Retry-After at once: waiting would keep the socket and its task with no end in sight
      while the client learns nothing, and a balancer can send the retry elsewhere.
    - The whole body must arrive within `read_timeout_seconds` of its headers, or 408. A
      deadline rather than a minimum rate, because it bounds how long any reservation is
      held, whatever the size: the budget drains at least budget/timeout bytes a second.
    - A client that leaves mid-body is logged once at INFO and recorded with status 499;
      the app never sees the request.
    - A route in `streamed_routes` reads its own body as it arrives, under its own limits,
      so the generic size and media type are not checked and nothing is buffered or taken
      from the budget. It goes to `streaming_app` (default `app`): the app passes the
      handler inside the concurrency limit, which would otherwise read up to the limit
      into memory and hold a place for as long as an upload takes. Its body must keep
      arriving: a pause longer than `read_timeout_seconds` ends it with 408
      (`BodyStalledError`, raised where the handler reads). At most `max_streamed` stream
      at once; another gets 503 with Retry-After before its body is read, since each
      holds a database connection for as long as its client takes.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        budget: BodyBudget | None = None,
        read_timeout_seconds: float = 15.0,
        retry_after_seconds: int = 2,
        media_types: Iterable[str] = JSON_MEDIA_TYPES,
        form_paths: Iterable[str] = (),
        streamed_routes: StreamedBodyRoutes | None = None,
        streaming_app: ASGIApp | None = None,
        max_streamed: int = 4,
    ) -> None:
        self._app = app
        self._max_streamed = max_streamed
        self._streaming = 0
        self._streamed_routes = streamed_routes or StreamedBodyRoutes(())
        self._streaming_app = streaming_app or app
        self._max = max_body_bytes
        self._budget = budget or BodyBudget(64 * 1_048_576)
        self._timeout = read_timeout_seconds
        self._retry_after = str(retry_after_seconds).encode()
        self._media_types = frozenset(media_types)
        self._form_paths = frozenset(form_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared body, read it, then pass the request on."""
        if scope["type"] != ScopeType.HTTP:
            await self._app(scope, receive, send)
            return
        headers = dict(scope.get("headers", ()))
        declared = _parse_length(headers.get(b"content-length"))
        if declared == -1:
            await _reject(send, 400, "body", "has an invalid Content-Length header")
            return
        if self._streamed_routes.streams(scope["method"], scope["path"]):
            await self._stream(scope, receive, send)
            return
        if declared is not None and declared > self._max:
            await _reject(send, 413, "body", f"is too large; the limit is {self._max} bytes")
            return
        chunked = b"transfer-encoding" in headers
        has_body = bool(declared) or chunked
        if has_body and not self._accepts(headers.get(b"content-type", b""), scope["path"]):
            await _reject(send, 415, "content_type", "must be application/json")
            return
        receive = _noting_disconnect(scope, receive)
        # HTTP/2 frames a body without either header.
        unframed = scope.get("http_version") == "2" and scope.get("method") not in _NO_BODY_METHODS
        if declared is None and (chunked or unframed):
            await self._read_then_serve(scope, receive, send, None)
        elif declared:
            await self._read_then_serve(scope, receive, send, declared)
        else:
            await self._app(scope, receive, send)

    async def _stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._streaming >= self._max_streamed:
            await _reject(
                send,
                503,
                "body",
                "too many uploads are in progress; retry shortly",
                [(b"retry-after", self._retry_after)],
            )
            return
        self._streaming += 1
        try:
            receive = _stalling_after(self._timeout, _noting_disconnect(scope, receive))
            await self._streaming_app(scope, receive, send)
        finally:
            self._streaming -= 1

    async def _read_then_serve(
        self, scope: Scope, receive: Receive, send: Send, declared: int | None
    ) -> None:
        reserved = self._max if declared is None else declared
        if not self._budget.try_reserve(reserved):
            await _reject(
                send,
                503,
                "server",
                "is busy receiving other requests; retry shortly",
                [(b"retry-after", self._retry_after)],
            )
            return
        try:
            reader = _BodyReader(receive, declared, self._max)
            try:
                async with asyncio.timeout(self._timeout):
                    body = await reader.read()
            except TimeoutError:
                logger.info(
                    "request body too slow: {got} of {expected} bytes in {seconds:g} s",
                    got=reader.received,
                    expected=declared if declared is not None else "?",
                    seconds=self._timeout,
                )
                await _reject(send, 408, "body", "took too long to arrive")
                return
            except _DisconnectedError:
                log_client_disconnect(scope, reader.received, declared)
                await _record_disconnect(send)
                return
            except _TooLongError:
                await _reject(send, 413, "body", "is too large")
                return
            del reader
            await self._app(scope, _replaying(body, receive), send)
        finally:
            self._budget.release(reserved)

    def _accepts(self, content_type: bytes, path: str) -> bool:
        media_type = content_type.split(b";", 1)[0].strip().lower().decode("latin-1")
        if media_type == FORM_MEDIA_TYPE:
            return path in self._form_paths
        return media_type in self._media_types or media_type.endswith("+json")


class _BodyReader:
    """Reads a body into one buffer: preallocated to the declared length, else grown."""

    def __init__(self, receive: Receive, declared: int | None, limit: int) -> None:
        self._receive = receive
        self._declared = declared
        self._limit = declared if declared is not None else limit
        self.received = 0

    async def read(self) -> bytes:
        message = await self._receive()
        if message["type"] != "http.request":
            raise _DisconnectedError
        first = message.get("body", b"")
        if not message.get("more_body", False):
            self._count(first)
            return first  # the common case, a body in one piece: no copy
        buffer = bytearray(self._limit) if self._declared is not None else bytearray()
        try:
            self._put(buffer, first)
            while message.get("more_body", False):
                message = await self._receive()
                if message["type"] != "http.request":
                    raise _DisconnectedError
                self._put(buffer, message.get("body", b""))
            return bytes(memoryview(buffer)[: self.received])
        finally:
            del buffer

    def _count(self, chunk: bytes) -> None:
        if self.received + len(chunk) > self._limit:
            raise _TooLongError
        self.received += len(chunk)

    def _put(self, buffer: bytearray, chunk: bytes) -> None:
        start = self.received
        self._count(chunk)
        if self._declared is None:
            buffer += chunk
        else:
            buffer[start : self.received] = chunk


def _noting_disconnect(scope: Scope, receive: Receive) -> Receive:
    """`receive`, marking the request when the client has gone (see errors.py)."""

    async def noting() -> ReceiveMessage:
        message = await receive()
        if message["type"] == "http.disconnect":
            mark_client_disconnected(scope)
        return message

    return noting


def _stalling_after(seconds: float, receive: Receive) -> Receive:
    """`receive`, raising `BodyStalledError` when no part of the body comes for `seconds`.

    Once the body has ended, waiting (for a disconnect) is not timed.
    """
    body_ended = False

    async def paced() -> ReceiveMessage:
        nonlocal body_ended
        if body_ended:
            return await receive()
        try:
            async with asyncio.timeout(seconds):
                message = await receive()
        except TimeoutError:
            logger.info("streamed request body stalled for {seconds:g} s", seconds=seconds)
            raise BodyStalledError from None
        body_ended = message["type"] != "http.request" or not message.get("more_body", False)
        return message

    return paced


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands over the body read, then whatever the client sends next."""
    pending: list[ReceiveMessage] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> ReceiveMessage:
        if pending:
            return pending.pop()
        return await receive()

    return replay


def _parse_length(value: bytes | None) -> int | None:
    if value is None:
        return None
    return int(value) if value.isdigit() and len(value) < 19 else -1


async def _record_disconnect(send: Send) -> None:
    """Start a 499 response, which the access log records; nobody is there to read it."""
    with contextlib.suppress(OSError, RuntimeError):
        await send(
            {
                "type": "http.response.start",
                "status": CLIENT_DISCONNECTED_STATUS,
                "headers": [(b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _reject(
    send: Send,
    status: int,
    key: str,
    message: str,
    extra_headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    body = envelope_bytes(key, message)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *extra_headers,
            ],
        },
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
