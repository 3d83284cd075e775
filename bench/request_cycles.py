"""Keep-alive connections that each go round a list of requests of their own.

`bench/load.py` sends one request on every connection; here each connection has its own
cycle (its own user's token, its own articles, its own filter values) and resumes it where
the previous run stopped, so that a bench can alternate runs and still have every request
do what it says (a favorite followed by its unfavorite, never a favorite of an article the
user already favors). A connection stops only at the end of a group (a favorite and its
unfavorite are one group of two), after the run's time is up, and every request it sent is
answered before the run ends: nothing is left in flight for the next run to meet.
"""

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bench.load import LoadResult, build_request

ANSWER_TIMEOUT_SECONDS = 60.0
HOST = "127.0.0.1"
"""Where the benches' servers listen, and the Host their requests name."""


def port_of(base: str) -> int:
    """The port of a server's base URL."""
    port = urlsplit(base).port
    if port is None:
        raise ValueError(f"no port in {base}")
    return port


def auth(token: str) -> dict[str, str]:
    """The header that signs a request in."""
    return {"Authorization": f"Token {token}"}


@dataclass(slots=True)
class Cycle:
    """One connection's requests, sent in order and round again, `group` at a time."""

    requests: list[bytes]
    group: int = 1
    position: int = 0
    failures: list[str] = field(default_factory=list)

    @classmethod
    def of(
        cls,
        host: str,
        calls: list[tuple[str, str]],
        *,
        headers: dict[str, str] | None = None,
        group: int = 1,
    ) -> "Cycle":
        """A cycle of `(method, path)` calls, each sent with `headers`."""
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        requests = []
        for method, path in calls:
            empty = "" if method == "GET" else "Content-Length: 0\r\n"
            head, _, rest = build_request(host, method, path, None).partition(b"\r\n")
            requests.append(head + b"\r\n" + (extra + empty).encode() + rest)
        return cls(requests, group)


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """The status and body of one HTTP/1.1 answer (Content-Length or chunked)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if not chunked:
        return status, await reader.readexactly(length)
    body = bytearray()
    while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
        body += await reader.readexactly(size)
        await reader.readexactly(2)
    await reader.readuntil(b"\r\n")
    return status, bytes(body)


async def _connection(
    host: str, port: int, cycle: Cycle, stop_at: float, latencies: list[float]
) -> int:
    """Send `cycle`'s requests until `stop_at` and the end of a group; the errors."""
    reader, writer = await asyncio.open_connection(host, port)
    errors = 0
    try:
        while time.perf_counter() < stop_at or cycle.position % cycle.group:
            request = cycle.requests[cycle.position % len(cycle.requests)]
            cycle.position += 1
            started = time.perf_counter()
            writer.write(request)
            async with asyncio.timeout(ANSWER_TIMEOUT_SECONDS):
                status, body = await _read_answer(reader)
            latencies.append((time.perf_counter() - started) * 1000)
            if not 200 <= status < 300:
                errors += 1
                if len(cycle.failures) < 5:
                    line = request.split(b"\r\n", 1)[0].decode()
                    cycle.failures.append(f"{line} -> {status} {body[:200]!r}")
    finally:
        writer.close()
    return errors


async def run_cycles(host: str, port: int, cycles: list[Cycle], seconds: float) -> LoadResult:
    """One connection per cycle for `seconds`; a non-2xx answer counts as an error."""
    latencies: list[float] = []
    started = time.perf_counter()
    errors = await asyncio.gather(
        *(_connection(host, port, cycle, started + seconds, latencies) for cycle in cycles)
    )
    return LoadResult(len(latencies), sum(errors), time.perf_counter() - started, latencies)
