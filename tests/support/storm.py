"""Requests that reach a server at the same moment, for race tests.

An HTTP client library spends a fraction of a millisecond of Python on each request it
sends, which spreads a burst of twenty over several milliseconds, long enough for a fast
handler to finish before the last request arrives. Here every request gets its own
connection, opened beforehand, and its bytes are encoded beforehand too (with h11, the
parser httpx itself uses); then all of them are written in one tight loop, so they leave
within a fraction of a millisecond of each other.
"""

import asyncio
from collections.abc import Sequence

import h11
import httpx


async def send_together(requests: Sequence[httpx.Request]) -> list[httpx.Response]:
    """Send `requests` all at once, one fresh connection each; their responses, in order.

    Bound it with `asyncio.timeout` where a hung server must not hang the caller.
    """
    connections = await asyncio.gather(*(_connect(request) for request in requests))
    encoded = [_encode(request) for request in requests]
    for (_, writer), (_, payload) in zip(connections, encoded, strict=True):
        writer.write(payload)
    try:
        return list(
            await asyncio.gather(
                *(
                    _read(reader, parser, request)
                    for (reader, _), (parser, _), request in zip(
                        connections, encoded, requests, strict=True
                    )
                )
            )
        )
    finally:
        for _, writer in connections:
            writer.close()


async def _connect(request: httpx.Request) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    url = request.url
    if url.scheme != "http" or url.host is None:
        raise ValueError(f"plain http:// URLs only, not {url}")
    return await asyncio.open_connection(url.host, url.port or 80)


def _encode(request: httpx.Request) -> tuple[h11.Connection, bytes]:
    parser = h11.Connection(our_role=h11.CLIENT)
    headers = [
        (name, value) for name, value in request.headers.raw if name.lower() != b"connection"
    ]
    head = h11.Request(
        method=request.method,
        target=request.url.raw_path,
        headers=[*headers, (b"connection", b"close")],
    )
    payload = parser.send(head) or b""
    body = request.read()
    if body:
        payload += parser.send(h11.Data(data=body)) or b""
    payload += parser.send(h11.EndOfMessage()) or b""
    return parser, payload


async def _read(
    reader: asyncio.StreamReader, parser: h11.Connection, request: httpx.Request
) -> httpx.Response:
    status = 0
    headers: list[tuple[bytes, bytes]] = []
    body = bytearray()
    while True:
        event = parser.next_event()
        if event is h11.NEED_DATA:
            parser.receive_data(await reader.read(65_536))
        elif isinstance(event, h11.Response):
            status, headers = event.status_code, list(event.headers)
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            return httpx.Response(status, headers=headers, content=bytes(body), request=request)
        elif isinstance(event, h11.ConnectionClosed):
            raise ConnectionError(f"{request.method} {request.url} closed without an answer")
