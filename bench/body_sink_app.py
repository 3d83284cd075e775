"""A bare ASGI app that reads request bodies and drops them, for `bench/files.py`.

No framework, no middleware, no storage: what a `POST` to it costs is the server's own
delivery of the body to the app (granian's, when `bench/files.py` serves it), so its
throughput is the ceiling of any app on that server. `POST` to `HASHING_SINK_PATH` also
runs SHA-256 over each chunk on the event loop, as the upload must: the ceiling with the
one piece of work the issue requires of every byte.
"""

import hashlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final, TypeAlias

Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
App: TypeAlias = Callable[[Message, Receive, Send], Awaitable[None]]

SINK_PATH: Final = "/sink"
HASHING_SINK_PATH: Final = "/sink/sha256"
LIVE_PATH: Final = "/health/live"
"""Answered 200 to a GET, where `bench.asgi_servers.wait_live` asks whether a server is up."""
BYTES_HEADER: Final = "x-body-bytes"
"""The number of body bytes the sink read, in every answer to a `POST`."""
SHA256_HEADER: Final = "x-body-sha256"
"""The hex SHA-256 of the body, in answers from `HASHING_SINK_PATH` only."""


async def respond(send: Send, status: int, headers: list[tuple[bytes, bytes]]) -> None:
    """An answer with no body."""
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def drain(receive: Receive, feed: Callable[[bytes], object] | None) -> int:
    """Read the request's body to its end; the bytes it had, each chunk given to `feed` if any.

    A client that disconnects ends the body where it stopped.
    """
    received = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return received
        chunk = message.get("body", b"")
        received += len(chunk)
        if feed is not None:
            feed(chunk)
        if not message.get("more_body", False):
            return received


async def sink(scope: Message, receive: Receive, send: Send) -> None:
    """Drain a `POST` to a sink path and answer 204 with the byte count; 200 to a liveness GET.

    Anything else is 404 (405 for another method on a sink path). The lifespan protocol is
    acknowledged, with nothing to start or stop.
    """
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] != "http":
        return
    path, method = scope["path"], scope["method"]
    if path in (SINK_PATH, HASHING_SINK_PATH):
        if method != "POST":
            await respond(send, 405, [(b"allow", b"POST")])
            return
        digest = hashlib.sha256() if path == HASHING_SINK_PATH else None
        received = await drain(receive, digest.update if digest is not None else None)
        headers = [(BYTES_HEADER.encode(), str(received).encode())]
        if digest is not None:
            headers.append((SHA256_HEADER.encode(), digest.hexdigest().encode()))
        await respond(send, 204, headers)
    elif path == LIVE_PATH and method == "GET":
        await respond(send, 200, [])
    else:
        await respond(send, 404, [])


def build_app() -> App:
    """The sink (a granian factory, so it is served with the flags Portico's factory gets)."""
    return sink
