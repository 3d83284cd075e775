"""Clients for the live channels of a running `portico serve`: WebSocket, SSE, SMS gateway.

- `Account` registers a user over HTTP and keeps what requests need to be theirs.
- `open_socket` / `authenticate` / `next_message` / `closed_with` speak the /ws protocol
  with the `websockets` asyncio client; `stalled_socket` builds a TCP socket whose reader
  falls behind after a few kilobytes, so the server's send path blocks quickly.
- `SmsGateway` is a local Twilio-compatible Messages API that records each form POST, so
  a test can read the code a user was texted.
- `server_failures` finds the log lines that say the server failed a request.
"""

import asyncio
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

T = TypeVar("T")

PASSWORD = "password123"
SMALL_MSS = 88
"""The smallest TCP segment Linux allows; a peer that announces it keeps the server's
autotuned send buffer around 16 KiB instead of megabytes on loopback."""


@dataclass
class Account:
    """A registered user: name, email, current access token."""

    name: str
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header of this user."""
        return {"Authorization": f"Token {self.token}"}

    @classmethod
    async def register(cls, api: httpx.AsyncClient) -> "Account":
        """A new user with a unique name."""
        name = f"n{uuid.uuid4().hex[:12]}"
        email = f"{name}@test.com"
        body = {"user": {"username": name, "email": email, "password": PASSWORD}}
        response = await api.post("/api/users", json=body)
        assert response.status_code == 201, response.text
        return cls(name=name, email=email, token=response.json()["user"]["token"])

    async def log_in(self, api: httpx.AsyncClient) -> str:
        """A fresh access token from POST /api/users/login (a new session)."""
        body = {"user": {"email": self.email, "password": PASSWORD}}
        response = await api.post("/api/users/login", json=body)
        assert response.status_code == 200, response.text
        return str(response.json()["user"]["token"])


def short_lived_copy(token: str, *, secret: str, seconds: float) -> tuple[str, int]:
    """The same session's token re-signed to expire in about `seconds`; and its `exp`.

    ACCESS_TOKEN_TTL_SECONDS cannot go below 60, so a test that watches a token expire
    signs one itself with the server's JWT_SECRET: same subject, session and claims.
    """
    claims = jwt.decode(token, options={"verify_signature": False})
    expires = int(time.time() + seconds)
    claims |= {"exp": expires, "iat": int(time.time()), "jti": str(uuid.uuid4())}
    return jwt.encode(claims, secret, algorithm="HS256"), expires


# --- WebSocket -----------------------------------------------------------------------------


def ws_url(base_url: str) -> str:
    """The gateway's ws:// address for an http:// base URL."""
    return base_url.replace("http://", "ws://", 1) + "/ws"


async def open_socket(base_url: str, *, query: str = "", **options: Any) -> ClientConnection:
    """A connected WebSocket, not yet authenticated (unless `query` carries a ticket)."""
    return await connect(
        ws_url(base_url) + query, proxy=None, compression=None, ping_interval=None, **options
    )


async def live_ticket(base_url: str, token: str) -> str:
    """A single-use ticket that authenticates a socket at its handshake."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as api:
        issued = await api.post(
            "/api/notifications/live-ticket", headers={"Authorization": f"Token {token}"}
        )
    assert issued.status_code == 201, issued.text
    return str(issued.json()["ticket"])


async def send_json(ws: ClientConnection, message: dict[str, Any]) -> None:
    """Send one JSON text frame."""
    await ws.send(json.dumps(message))


async def receive_json(ws: ClientConnection, within: float = 5.0) -> dict[str, Any]:
    """The next message, decoded."""
    async with asyncio.timeout(within):
        raw = await ws.recv()
    decoded = json.loads(raw)
    assert isinstance(decoded, dict), raw
    return decoded


async def next_message(
    ws: ClientConnection,
    kind: str,
    *,
    answering: object = None,
    within: float = 5.0,
    seen: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The next message of type `kind` (answering the request id `answering`, if given).

    Others (heartbeats, pushes, other answers) are skipped, into `seen` if given.
    """
    async with asyncio.timeout(within):
        while True:
            message = await receive_json(ws, within=within)
            if message.get("type") == kind and (
                answering is None or message.get("id") == answering
            ):
                return message
            if seen is not None:
                seen.append(message)


async def authenticate(
    base_url: str,
    token: str,
    *,
    request_id: object = None,
    ticket: bool = False,
    **options: Any,
) -> tuple[ClientConnection, dict[str, Any]]:
    """A socket authenticated with the token, and the server's `auth_ok`: by a live ticket
    (the default admission) when `ticket`, else by the `auth` message, which needs a
    server with a waiting room (WS_MAX_UNAUTHENTICATED above 0)."""
    if ticket:
        query = "?ticket=" + await live_ticket(base_url, token)
        ws = await open_socket(base_url, query=query, **options)
        return ws, await next_message(ws, "auth_ok")
    ws = await open_socket(base_url, **options)
    message: dict[str, Any] = {"type": "auth", "token": token}
    if request_id is not None:
        message["id"] = request_id
    await send_json(ws, message)
    return ws, await next_message(ws, "auth_ok")


async def closed_with(
    ws: ClientConnection, *, within: float = 5.0, seen: list[dict[str, Any]] | None = None
) -> tuple[int | None, str]:
    """Read until the server closes; the close code and reason it sent (None: no frame)."""
    try:
        async with asyncio.timeout(within):
            while True:
                raw = await ws.recv()
                if seen is not None:
                    seen.append(json.loads(raw))
    except ConnectionClosed as closed:
        if closed.rcvd is None:
            return None, "no close frame received"
        return closed.rcvd.code, closed.rcvd.reason


@asynccontextmanager
async def authenticated(
    base_url: str, token: str, **options: Any
) -> AsyncIterator[tuple[ClientConnection, dict[str, Any]]]:
    """`authenticate`, closing the socket when the block ends."""
    ws, ok = await authenticate(base_url, token, **options)
    try:
        yield ws, ok
    finally:
        await ws.close()


@asynccontextmanager
async def kept_alive(*sockets: ClientConnection, every: float = 0.4) -> AsyncIterator[None]:
    """Ping the sockets every `every` seconds meanwhile, so the idle timeout spares them."""

    async def beat() -> None:
        while True:
            for ws in sockets:
                with suppress(ConnectionClosed):
                    await send_json(ws, {"type": "ping"})
            await asyncio.sleep(every)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


def stalled_socket(base_url: str) -> socket.socket:
    """A connected TCP socket for a reader that stops reading: tiny window, tiny segments.

    On loopback the MSS is 64 KiB and Linux grows the server's send buffer to megabytes,
    so a client that merely stops reading would need thousands of messages before the
    server's writes block. A receive buffer of 1 KiB and the smallest MSS keep what the
    kernel will hold for this connection to a few dozen kilobytes.
    """
    parts = urlsplit(base_url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, SMALL_MSS)
    sock.connect((parts.hostname or "127.0.0.1", parts.port or 80))
    sock.setblocking(False)
    return sock


# --- Server-Sent Events --------------------------------------------------------------------


@dataclass
class SseEvent:
    """One event of the stream: its name, data lines and comments (a heartbeat is one)."""

    event: str | None = None
    data: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)


async def sse_events(response: httpx.Response) -> AsyncGenerator[SseEvent, None]:
    """The events of a streamed `text/event-stream` response, as they arrive."""
    current = SseEvent()
    async for line in response.aiter_lines():
        if not line:
            yield current
            current = SseEvent()
        elif line.startswith(":"):
            current.comments.append(line[1:].strip())
        elif line.startswith("event:"):
            current.event = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            current.data.append(line.removeprefix("data:").lstrip())


# --- SMS gateway ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedSms:
    """A form POST the gateway received."""

    path: str
    authorization: str
    form: dict[str, str]


class SmsGateway:
    """A Twilio-compatible Messages API on 127.0.0.1 that keeps every message it is sent."""

    def __init__(self) -> None:
        self.messages: list[RecordedSms] = []
        self._lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                with gateway._lock:
                    gateway.messages.append(
                        RecordedSms(
                            path=self.path,
                            authorization=self.headers.get("Authorization", ""),
                            form={key: values[0] for key, values in form.items()},
                        )
                    )
                body = json.dumps({"sid": f"SM{uuid.uuid4().hex}", "status": "queued"}).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(
                self,
                format: str,  # noqa: A002 - BaseHTTPRequestHandler's name for it
                *args: Any,
            ) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"

    @contextmanager
    def running(self) -> Iterator["SmsGateway"]:
        """Serve in a thread until the block ends."""
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join(timeout=5)

    def sent_to(self, number: str) -> list[RecordedSms]:
        """The messages addressed to `number`, oldest first."""
        with self._lock:
            return [message for message in self.messages if message.form.get("To") == number]


# --- Waiting and logs ----------------------------------------------------------------------


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, within: float = 10.0, what: str = "it"
) -> T:
    """Poll `probe` until it returns something other than None (or False)."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.05)


_FAILED_REQUEST = re.compile(r"portico\.access \S+ \S+ 5\d\d ")
_FAILURE = re.compile(r" (ERROR|CRITICAL) |Traceback|unhandled |websocket session failed")


def server_failures(log: str) -> list[str]:
    """Lines of a server log that report a 5xx answer, an error, or a traceback."""
    return [
        line for line in log.splitlines() if _FAILED_REQUEST.search(line) or _FAILURE.search(line)
    ]
