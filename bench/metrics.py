"""What the Prometheus metrics cost a request (issue 15): signed-in lists, metrics on against off.

Two `portico serve` processes (one granian worker each) run the same code, settings and
database, one with METRICS_MODE=off and one with METRICS_MODE=token, so the second counts
every request into its multiprocess files as a production server does. The database is a
schema of the run's own, migrated and seeded by `portico seed` (50 users, 500 articles);
the API processes do not relay the outbox (as where `portico worker` does).

`--connections` users (32), each registered by the run and on a keep-alive connection of
its own, send `GET /api/articles?limit=20` signed in (not cached: a signed-in list never
is). The two servers are loaded in alternating slices (`--slices` pairs of
`--slice-seconds`, metrics off first in odd pairs and on first in even ones, after
`--warm-up` seconds on each; one server loaded at a time), each slice ending once every
request it sent is answered. req/s is a server's requests over its seconds in all slices.
Target: metrics on >= 0.95 x metrics off, with no error. The server with metrics on is then
scraped: it must have counted every request sent to it (or the ratio compares nothing),
and the one with metrics off must have no `/metrics` at all.

    make bench                   # or: .venv/bin/python bench/metrics.py
    .venv/bin/python bench/metrics.py --slices 1 --slice-seconds 1 --warm-up 0.5 \
        --connections 8          # a smoke run, under a minute

DATABASE_URL (or --database-url) picks the PostgreSQL server; unset, the embedded one is
used in a temporary directory. Either way the run works in a schema of its own.
"""

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.network import free_port
from tests.support.postgres import isolated_schema, run_alembic

from bench.load import LoadResult
from bench.request_cycles import HOST, Cycle, auth, run_cycles
from entrypoints.bootstrap import resolved_database
from entrypoints.config import load_settings

ROOT = Path(__file__).resolve().parents[1]
PORTICO = str(Path(sys.executable).with_name("portico"))
SEED = ["--users", "50", "--articles", "500", "--comments", "0", "--seed", "1"]
PASSWORD = "bench-password-123"
LIST = "/api/articles?limit=20"
TARGET_RATIO = 0.95
METRICS_TOKEN = secrets.token_urlsafe(48)


@dataclass(slots=True)
class Mode:
    """One server's slices added up."""

    name: str
    port: int
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)

    def add(self, result: LoadResult) -> None:
        """Count one slice in."""
        self.requests += result.requests
        self.errors += result.errors
        self.seconds += result.seconds
        self.latencies_ms += result.latencies_ms

    @property
    def per_second(self) -> float:
        """Requests over seconds, all slices."""
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """The latency percentile `p` over all slices."""
        return LoadResult(self.requests, self.errors, self.seconds, self.latencies_ms).percentile(p)


def parse_args() -> argparse.Namespace:
    """The command line; the defaults are the full run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--connections", type=int, default=32, help="signed-in users at once")
    parser.add_argument("--slices", type=int, default=4, help="metrics off/on slice pairs")
    parser.add_argument("--slice-seconds", type=float, default=3.0)
    parser.add_argument("--warm-up", type=float, default=2.0, help="unmeasured seconds, each")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    return parser.parse_args()


@contextlib.contextmanager
def serving(name: str, env: dict[str, str], logs: Path) -> Iterator[Mode]:
    """`portico serve` with one worker, until the block ends."""
    port = free_port()
    log = logs / f"{name.replace(' ', '-')}.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [PORTICO, "serve", "--port", str(port), "--workers", "1"],
            env=env,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"bench: {name} did not start:\n{log.read_text()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://{HOST}:{port}/health/live", timeout=1).status_code == 200:
                    break
            time.sleep(0.2)
        yield Mode(name, port)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


def register(port: int, count: int) -> list[str]:
    """Sign `count` new users up; their tokens."""
    tokens = []
    for _ in range(count):
        name = f"bench{uuid.uuid4().hex[:8]}"
        user = {"username": name, "email": f"{name}@bench.test", "password": PASSWORD}
        answer = httpx.post(f"http://{HOST}:{port}/api/users", json={"user": user}, timeout=60)
        tokens.append(answer.raise_for_status().json()["user"]["token"])
    return tokens


def measure(modes: tuple[Mode, Mode], cycles: list[Cycle], args: argparse.Namespace) -> None:
    """Alternating slices on the two servers (off first, then on first, ...)."""
    for mode in modes:
        asyncio.run(run_cycles(HOST, mode.port, cycles, args.warm_up))
    print(
        f"\nsigned-in GET {LIST}, {len(cycles)} users at once, {args.slices} pairs of "
        f"{args.slice_seconds:g} s slices, order swapped every pair"
    )
    print(f"{'slice':>5} {'metrics off':>12} {'metrics on':>11} {'on/off':>7}")
    for number in range(args.slices):
        order = modes if number % 2 == 0 else modes[::-1]
        rates = {}
        for mode in order:
            result = asyncio.run(run_cycles(HOST, mode.port, cycles, args.slice_seconds))
            mode.add(result)
            rates[mode.name] = result.per_second
        off, on = (rates[mode.name] for mode in modes)
        print(f"{number + 1:5d} {off:12.0f} {on:11.0f} {on / off if off else 0:7.3f}")


def counted_lists(port: int) -> float:
    """The requests to the list the server with metrics on counted, from its scrape."""
    text = httpx.get(
        f"http://{HOST}:{port}/metrics",
        headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
        timeout=30,
    ).text
    wanted = {"route": "/api/articles", "method": "GET", "status": "200"}
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "portico_http_requests_total" and sample.labels == wanted
    )


def verdicts(off: Mode, on: Mode, counted: float, off_status: int) -> list[tuple[str, bool]]:
    """Every target, held or missed."""
    ratio = on.per_second / off.per_second if off.per_second else 0.0
    return [
        (
            (
                f"signed-in list with metrics on {on.per_second:.0f} req/s >= {TARGET_RATIO} x "
                f"metrics off {off.per_second:.0f} (ratio {ratio:.3f})"
            ),
            ratio >= TARGET_RATIO,
        ),
        (
            (
                f"metrics on counted every list it served ({counted:.0f} counted, at least "
                f"{on.requests} sent in the slices)"
            ),
            counted >= on.requests > 0,
        ),
        (f"metrics off has no /metrics ({off_status})", off_status == 404),
        (f"errors and non-2xx: {off.errors + on.errors}", off.errors + on.errors == 0),
    ]


def main() -> None:
    """Seed, serve metrics off and on, measure, print the verdicts."""
    args = parse_args()
    with contextlib.ExitStack() as stack:
        data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="portico-bench-metrics-"))
        env = {
            **os.environ,
            "LOG_LEVEL": "WARNING",
            "DATA_DIR": data_dir,
            "JWT_SECRET": secrets.token_urlsafe(48),
            "RATE_LIMIT_AUTH_PER_IP": "1000000",
            "RATE_LIMIT_REGISTRATIONS_PER_IP": "1000000",
            "APP_WORKERS": "1",
            "CACHE_CONTENT": "false",
            "DATABASE_POOL_SIZE": str(args.connections),
            "OUTBOX_RELAY_IN_API": "false",
            "METRICS_MODE": "off",
        }
        for variable in ("METRICS_TOKEN", "METRICS_MULTIPROCESS_DIR", "PROMETHEUS_MULTIPROC_DIR"):
            env.pop(variable, None)
        if args.database_url:
            env["DATABASE_URL"] = args.database_url
        settings = stack.enter_context(resolved_database(load_settings(env, env_file=None)))
        assert settings.database.url is not None
        url = stack.enter_context(isolated_schema(settings.database.url, prefix="bench_metrics"))
        env["DATABASE_URL"] = url
        started = time.perf_counter()
        run_alembic(url, "upgrade", "head")
        subprocess.run(
            [PORTICO, "seed", *SEED, "--password-stdin"],
            input=PASSWORD + "\n",
            text=True,
            env=env,
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        print(f"seeded the content in {time.perf_counter() - started:.1f} s")
        logs = Path(data_dir)
        off = stack.enter_context(serving("metrics off", env, logs))
        on_env = {**env, "METRICS_MODE": "token", "METRICS_TOKEN": METRICS_TOKEN}
        on = stack.enter_context(serving("metrics on", on_env, logs))
        tokens = register(off.port, args.connections)
        cycles = [Cycle.of(HOST, [("GET", LIST)], headers=auth(token)) for token in tokens]
        measure((off, on), cycles, args)
        for failure in [failure for cycle in cycles for failure in cycle.failures][:10]:
            print(f"failed: {failure}")
        counted = counted_lists(on.port)
        off_status = httpx.get(f"http://{HOST}:{off.port}/metrics", timeout=10).status_code
        print(f"\n{'mode':12} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
        for mode in (off, on):
            print(
                f"{mode.name:12} {mode.per_second:8.0f} {mode.percentile(50):8.2f} "
                f"{mode.percentile(99):8.2f} {mode.errors:7d}"
            )

    results = verdicts(off, on, counted, off_status)
    print()
    for text, held in results:
        print(f"{'PASS' if held else 'MISS'}  {text}")
    if not all(held for _, held in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
