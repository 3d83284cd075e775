"""Measurement (the probe process, the RSS/CPU sampler) and results of the attacks."""

import asyncio
import contextlib
import math
import multiprocessing
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Self

import httpx
import psutil
from tests.support.server import RunningServer

from bench.attacking.harness import Tally

MB = 1_000_000
PROBE_P99_TARGET_S = 1.0
PROBE_TIMEOUT_S = 5.0
AFTER_TARGET_S = 1.0
# The source address of the probe and of the legitimate WebSocket client (`--bystander`):
# another loopback address than the attacker's 127.0.0.1, as an unrelated client would be.
BYSTANDER = ["127.0.0.2"]


# --- measurement: the probe process and the RSS/CPU sampler ---------------------------------


async def _probe_once(port: int, source: str) -> float:
    """One fresh connection's GET /health/live; its latency, or +inf on error or timeout."""
    started = time.perf_counter()
    writer = None
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, local_addr=(source, 0)
            )
            writer.write(
                b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            )
            head = await reader.readline()
    except (OSError, TimeoutError):
        return math.inf
    finally:
        if writer is not None:
            writer.transport.abort()
    if not head.startswith(b"HTTP/1.1 200"):
        return math.inf
    return time.perf_counter() - started


async def _probe_loop(pipe: Connection, port: int, interval: float, source: str) -> list[float]:
    """Start a probe every `interval` seconds, whether or not the earlier ones answered."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_reader(pipe.fileno(), stop.set)
    probes: list[asyncio.Task[float]] = []
    pipe.send("ready")
    while not stop.is_set():
        probes.append(asyncio.create_task(_probe_once(port, source)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
    loop.remove_reader(pipe.fileno())
    # Probes still waiting when the attack ends have waited at most PROBE_TIMEOUT_S more.
    return list(await asyncio.gather(*probes))


def _probe_process(pipe: Connection, port: int, interval: float, source: str) -> None:
    """Probe until told to stop; send back the latencies (inf: failed or timed out)."""
    latencies = asyncio.run(_probe_loop(pipe, port, interval, source))
    pipe.recv()
    pipe.send(latencies)


@dataclass
class Usage:
    """RSS and CPU of the server's process tree over one attack."""

    baseline_rss: float = 0.0
    peak_rss: float = 0.0
    last_rss: float = 0.0
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0

    @property
    def cpu_percent(self) -> float:
        return 100 * self.cpu_seconds / self.wall_seconds if self.wall_seconds else 0.0


def _tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def tree_rss(pid: int) -> float:
    """Resident memory of `pid` and its descendants, in bytes."""
    total = 0
    for process in _tree(pid):
        with contextlib.suppress(psutil.Error):
            total += process.memory_info().rss
    return float(total)


def tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of `pid` and its descendants, per process."""
    seconds = {}
    for process in _tree(pid):
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            seconds[process.pid] = times.user + times.system
    return seconds


class Watch:
    """Probe and sample while the attack runs (a context manager)."""

    def __init__(self, server: RunningServer, port: int) -> None:
        self.pid = server.process.pid
        self.port = port
        self.source = BYSTANDER[0]
        self.usage = Usage()
        self.latencies: list[float] = []
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            rss = tree_rss(self.pid)
            self.usage.peak_rss = max(self.usage.peak_rss, rss)
            self.usage.last_rss = rss

    def __enter__(self) -> Self:
        self.usage.baseline_rss = self.usage.peak_rss = self.usage.last_rss = tree_rss(self.pid)
        self._cpu = tree_cpu(self.pid)
        self._started = time.monotonic()
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._probe = context.Process(
            target=_probe_process, args=(child, self.port, 0.1, self.source)
        )
        self._probe.start()
        if not self._pipe.poll(30):
            raise RuntimeError("the probe process did not start")
        self._pipe.recv()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sampler.join()
        self._pipe.send("stop")
        self.latencies = self._pipe.recv() if self._pipe.poll(PROBE_TIMEOUT_S + 5) else []
        self._probe.join(5)
        cpu = tree_cpu(self.pid)
        self.usage.cpu_seconds = sum(cpu[p] - self._cpu.get(p, 0.0) for p in cpu)
        self.usage.wall_seconds = time.monotonic() - self._started

    def p99(self) -> float:
        return percentile(self.latencies, 99)


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return math.inf
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * pct / 100) - 1)]


def serves_normally(base: str) -> tuple[bool, str]:
    """Right after an attack: /health/live and a database read, each 200 within a second."""
    notes = []
    ok = True
    for path in ("/health/live", "/api/tags", "/health/live", "/api/tags"):
        started = time.perf_counter()
        try:
            status = httpx.get(base + path, timeout=5).status_code
        except httpx.HTTPError as error:
            status, ok = 0, False
            notes.append(f"{path}: {type(error).__name__}")
            continue
        elapsed = time.perf_counter() - started
        if status != 200 or elapsed > AFTER_TARGET_S:
            ok = False
        notes.append(f"{path} {status} {elapsed * 1000:.0f}ms")
    return ok, ", ".join(notes)


# --- results ----------------------------------------------------------------------------------


@dataclass
class Result:
    """One attack's figures and verdict."""

    name: str
    size: str
    server: str
    usage: Usage
    probe_p99: float
    probe_max: float
    probe_failures: int
    probe_count: int
    after_ok: bool
    after: str
    checks: list[tuple[str, bool]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def met(self) -> bool:
        return all(ok for _, ok in self.checks)


def as_ms(seconds: float) -> str:
    return f">{PROBE_TIMEOUT_S:g} s" if math.isinf(seconds) else f"{seconds * 1000:.0f} ms"


def _group(*parts: str) -> str:
    return "".join(parts)


def report(result: Result) -> None:
    u = result.usage
    print(f"\n== {result.name} [{result.server}]: {result.size}")
    print(
        f"   server RSS {u.baseline_rss / MB:.1f} MB before, peak {u.peak_rss / MB:.1f} MB "
        f"(+{(u.peak_rss - u.baseline_rss) / MB:.1f}); CPU {u.cpu_seconds:.1f} s over "
        f"{u.wall_seconds:.1f} s ({u.cpu_percent:.0f}% of a core)"
    )
    print(
        f"   probe /health/live: p99 {as_ms(result.probe_p99)}, max {as_ms(result.probe_max)}, "
        f"{result.probe_failures} failed of {result.probe_count}"
    )
    print(f"   right after: {'normal' if result.after_ok else 'NOT normal'} ({result.after})")
    for note in result.notes:
        print(f"   {note}")
    for check, ok in result.checks:
        print(f"   [{'met' if ok else 'MISSED'}] {check}")


def finish(
    *,
    tally: "Tally | None" = None,
    name: str,
    size: str,
    server: str,
    running: RunningServer,
    watch: Watch,
    checks: list[tuple[str, bool]],
    notes: list[str],
    probe_target: bool,
) -> Result:
    after_ok, after = serves_normally(running.base_url)
    if tally is not None and tally.crashed:
        notes = [*notes, f"{len(tally.crashed)} attacking tasks failed, e.g. {tally.crashed[0]}"]
    latencies = watch.latencies
    result = Result(
        name=name,
        size=size,
        server=server,
        usage=watch.usage,
        probe_p99=watch.p99(),
        probe_max=max(latencies) if latencies else math.inf,
        probe_failures=sum(1 for v in latencies if math.isinf(v)),
        probe_count=len(latencies),
        after_ok=after_ok,
        after=after,
        notes=notes,
    )
    if probe_target:
        checks = [(f"probe p99 {as_ms(result.probe_p99)} < 1 s", result.probe_p99 < 1.0), *checks]
    result.checks = [*checks, ("serves normally right after", after_ok)]
    report(result)
    return result
