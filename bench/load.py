"""A small HTTP/1.1 keep-alive load generator on raw asyncio sockets.

It sends the same GET over `concurrency` connections for `seconds`, and reports requests
per second and latency percentiles. Raw sockets keep the client cheap, so that on a
two-core machine the server, not the client, is what gets measured.
"""

import asyncio
import statistics
import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]

    def summary(self) -> str:
        return (
            f"{self.per_second:8.0f} req/s  p50 {self.percentile(50):6.2f} ms  "
            f"p99 {self.percentile(99):6.2f} ms  errors {self.errors}"
        )


def build_request(host: str, method: str, path: str, body: bytes | None) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + (body or b"")


async def _connection(
    host: str, port: int, request: bytes, stop_at: float, out: list[float]
) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    errors = 0
    try:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200"):
                errors += 1
            out.append((time.perf_counter() - started) * 1000)
    finally:
        writer.close()
    return errors


async def run_load(
    host: str,
    port: int,
    path: str,
    *,
    concurrency: int,
    seconds: float,
    method: str = "GET",
    body: bytes | None = None,
) -> LoadResult:
    latencies: list[float] = []
    request = build_request(host, method, path, body)
    started = time.perf_counter()
    stop_at = started + seconds
    errors = await asyncio.gather(
        *(_connection(host, port, request, stop_at, latencies) for _ in range(concurrency))
    )
    elapsed = time.perf_counter() - started
    return LoadResult(len(latencies), sum(errors), elapsed, latencies)


def median_of(results: list[LoadResult]) -> float:
    return statistics.median(r.per_second for r in results)
