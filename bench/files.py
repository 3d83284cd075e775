"""File uploads and downloads through the API, against `dd` and a hello endpoint on the same server.

One granian worker serves Portico, with the hello handler of `bench/content_app.py` beside
it, on PostgreSQL, with local storage in a temporary directory; a second one, started with
the same options, serves the bare body sink of `bench/body_sink_app.py`. All in one run:

1. A 200 MiB attachment streamed through `POST /api/files` (raw body, `Content-Length`,
   sent from a generator in 1 MiB chunks read from a source file), against
   `dd if=<the same source file> of=<the storage directory> bs=1M count=200 conv=fsync`:
   the upload fsyncs the file (and its directory) before it answers 201, so the fair
   comparison is a durable write too. The same client streams the same file to the sink,
   which only reads the body (the most any app on this server can take in), and to the
   sink's path that also hashes it with SHA-256 on the event loop (the one step the upload
   cannot leave out). One unmeasured round, then three of each, interleaved (dd first in
   odd rounds, last in even ones), medians compared. Target: upload MB/s >= 0.5 x dd's;
   the sink's ratio to dd is printed beside it, not a target, as the bound that the server
   and the disk set on that ratio. Meanwhile a thread samples the serving process's RSS
   every 20 ms; target: the API's peak during the upload minus its RSS just before
   < 30 MB. The client's CPU is reported, to show that it is not what limits the upload.
2. 32 uploads of 1 MiB at once (asyncio and httpx, a pool of 32), in rounds. Target: no
   error. Reported: p50 and p99 latency, uploads/s.
3. `GET /api/files/{id}` of a 1 MiB file by its owner, with `wrk -t1 -c32`, against hello:
   req/s and its ratio to hello, reported without a target (the bench only requires that
   every download succeeds).

The bodies are a ZIP local-file-header signature and random bytes: incompressible, with
each `<` that a letter or `!` follows replaced, so that no run of them reads as the markup
the upload refuses (about one 200 MiB body in three would) while the other `<` stay, as the
markup scan meets them in real files. Each file is deleted once measured, so the disk holds
one big file at a time.

    make bench                       # or: .venv/bin/python bench/files.py
    .venv/bin/python bench/files.py --big-mib 100 --repeats 5

Needs `wrk` (Debian package `wrk`). DATABASE_URL picks the PostgreSQL server; unset, the
embedded one is used in a temporary directory. `--directory` picks where the storage, the
source file and dd's output go (default: the system's temporary directory).
"""

import argparse
import asyncio
import contextlib
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final, Self

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.network import free_port

from bench.asgi_servers import wait_live
from bench.body_sink_app import BYTES_HEADER, HASHING_SINK_PATH, SHA256_HEADER, SINK_PATH
from bench.content import Measurement, run_wrk
from bench.content_app import HELLO_PATH
from entrypoints.bootstrap import resolved_database
from entrypoints.cli import GRANIAN_ALLOCATOR_CONF, GRANIAN_ALLOCATOR_ENV
from entrypoints.cli.serve import LISTEN_BACKLOG
from entrypoints.config import Settings, load_settings
from entrypoints.config.settings import RateLimitSettings
from entrypoints.config.settings.storage import StorageSettings

ROOT = Path(__file__).resolve().parents[1]
PORTICO = str(Path(sys.executable).with_name("portico"))
PORTICO_APP: Final = "bench.content_app:build_app"
SINK_APP: Final = "bench.body_sink_app:build_app"
MIB: Final = 1_048_576
MB: Final = 1_000_000
CHUNK_BYTES: Final = MIB
"""What the client hands the connection at a time, and dd's block size."""
ZIP_SIGNATURE: Final = b"PK\x03\x04"
"""A ZIP local file header's first bytes: the bodies are accepted as ZIP attachments."""
_MARKUP_START: Final = re.compile(rb"<(?=[A-Za-z!])")
"""Where a tag could start: every marker the upload refuses is `<` and a letter or `!`."""
TARGET_THROUGHPUT_RATIO: Final = 0.5
TARGET_RSS_GROWTH_MB: Final = 30.0
RSS_SAMPLE_SECONDS: Final = 0.02
CLIENT_BUSY_FRACTION: Final = 0.8
"""Client CPU over wall time above which the client may be what limits an upload."""
_DD_COPIED: Final = re.compile(r"^(\d+) bytes .* copied, ([\d.e+-]+) s", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Server:
    """The running server: its address and the process that serves its requests."""

    base: str
    api: psutil.Process
    log: Path


@dataclass(frozen=True, slots=True)
class SourceFile:
    """The bytes the big upload and dd both read: a file on disk, its size and SHA-256."""

    path: Path
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class BigUpload:
    """One streamed upload: how long it took, what it cost each side, and the server's RSS."""

    seconds: float
    client_cpu_seconds: float
    server_cpu_seconds: float
    rss_before: int
    rss_peak: int
    error: str | None

    @property
    def rss_growth(self) -> int:
        """Peak resident bytes during the upload over those just before it."""
        return self.rss_peak - self.rss_before


@dataclass(frozen=True, slots=True)
class BigRuns:
    """The measured rounds of the big upload: dd's seconds, and each kind of upload's runs."""

    dd_seconds: list[float]
    uploads: list[BigUpload]
    sinks: list[BigUpload]
    hashing_sinks: list[BigUpload]


@dataclass(frozen=True, slots=True)
class ConcurrentUploads:
    """The measured rounds of concurrent small uploads; `errors` also has the unmeasured round's."""

    latencies_ms: list[float]
    stored: int
    seconds: float
    errors: list[str]
    client_cpu_seconds: float
    server_cpu_seconds: float

    @property
    def per_second(self) -> float:
        """Uploads of the measured rounds answered 201, per second of their wall time."""
        return self.stored / self.seconds


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile `p` of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(len(ordered) * p / 100) - 1))]


def random_bytes(size: int) -> bytes:
    """Random bytes in which no tag starts, even where another piece is put after them.

    Only the `<` that a letter or `!` follows (or that ends the bytes) is replaced: the
    others stay, as in any binary file, since each one costs the upload's markup scan.
    """
    data = _MARKUP_START.sub(b"=", os.urandom(size))
    return data[:-1] + b"=" if data.endswith(b"<") else data


def random_body(size: int) -> bytes:
    """`size` bytes a ZIP attachment is accepted with: the signature, then random bytes."""
    return (ZIP_SIGNATURE + random_bytes(size - len(ZIP_SIGNATURE)))[:size]


def write_source(path: Path, size: int) -> SourceFile:
    """Write the big upload's source file (fsynced, so dd's runs do not flush it)."""
    digest = hashlib.sha256()
    with path.open("wb") as out:
        while (written := out.tell()) < size:
            length = min(CHUNK_BYTES, size - written)
            chunk = random_body(length) if not written else random_bytes(length)
            out.write(chunk)
            digest.update(chunk)
        out.flush()
        os.fsync(out.fileno())
    return SourceFile(path, size, digest.hexdigest())


def file_chunks(path: Path) -> Iterator[bytes]:
    """The file in `CHUNK_BYTES` pieces, read as the connection takes them."""
    with path.open("rb", buffering=0) as source:
        while chunk := source.read(CHUNK_BYTES):
            yield chunk


def cpu_seconds(process: psutil.Process) -> float:
    """User and system time of `process`, all its threads."""
    times = process.cpu_times()
    return float(times.user + times.system)


class RssSampler:
    """Reads a process's resident set size every `interval` seconds in a thread."""

    def __init__(self, process: psutil.Process, interval: float = RSS_SAMPLE_SECONDS) -> None:
        self._process = process
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self.before = 0
        self.peak = 0

    def __enter__(self) -> Self:
        self.before = self.peak = self._rss()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    def _rss(self) -> int:
        return int(self._process.memory_info().rss)

    def _sample(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak = max(self.peak, self._rss())


def auth(token: str) -> dict[str, str]:
    """The header that signs a request in."""
    return {"Authorization": f"Token {token}"}


def upload_url(base: str, name: str) -> str:
    """Where a raw-body attachment named `name` is posted."""
    return f"{base}/api/files?purpose=attachment&name={name}"


def checked_file(response: httpx.Response, size: int, sha256: str | None) -> tuple[str, str | None]:
    """The uploaded file's id, and what is wrong with the answer (None when it is a 201 of it)."""
    if response.status_code != 201:
        return "", f"{response.status_code} {response.text[:300]}"
    file = response.json()["file"]
    if file["size"] != size or (sha256 is not None and file["sha256"] != sha256):
        return file["id"], f"recorded {file['size']} bytes, SHA-256 {file['sha256']}"
    return file["id"], None


def delete_file(base: str, token: str, file_id: str) -> None:
    """Delete a measured file, so that the disk and the quota hold one at a time."""
    if file_id:
        httpx.delete(f"{base}/api/files/{file_id}", headers=auth(token)).raise_for_status()


def stream_source(
    server: Server, url: str, headers: dict[str, str], source: SourceFile
) -> tuple[httpx.Response, BigUpload]:
    """POST `source` to `url` on a fresh connection, timed; the answer is the caller's to check.

    Every target gets the same client, chunks and headers, so that their times differ only
    by what the server does with the body.
    """
    headers = {
        **headers,
        "Content-Type": "application/octet-stream",
        "Content-Length": str(source.size),
    }
    with httpx.Client(timeout=120) as client, RssSampler(server.api) as rss:
        server_cpu = cpu_seconds(server.api)
        client_cpu = time.thread_time()
        started = time.perf_counter()
        response = client.post(url, content=file_chunks(source.path), headers=headers)
        seconds = time.perf_counter() - started
        client_cpu = time.thread_time() - client_cpu
        server_cpu = cpu_seconds(server.api) - server_cpu
    return response, BigUpload(seconds, client_cpu, server_cpu, rss.before, rss.peak, None)


def upload_big(server: Server, token: str, source: SourceFile) -> BigUpload:
    """Stream `source` through `POST /api/files`; delete the file afterwards."""
    url = upload_url(server.base, "big.bin")
    response, run = stream_source(server, url, auth(token), source)
    file_id, error = checked_file(response, source.size, source.sha256)
    delete_file(server.base, token, file_id)
    return replace(run, error=error)


def sink_big(sink: Server, path: str, source: SourceFile) -> BigUpload:
    """Stream `source` to the body sink's `path`; an error unless it read every byte.

    From the hashing path, the SHA-256 it answers must be the source's too: it proves the
    hash ran over the whole body.
    """
    response, run = stream_source(sink, sink.base + path, {}, source)
    received = response.headers.get(BYTES_HEADER)
    sha256 = response.headers.get(SHA256_HEADER)
    if response.status_code != 204 or received != str(source.size):
        error = f"sink answered {response.status_code}, read {received} bytes"
    elif path == HASHING_SINK_PATH and sha256 != source.sha256:
        error = f"sink hashed the body to {sha256}"
    else:
        error = None
    return replace(run, error=error)


def dd_seconds(source: SourceFile, directory: Path) -> float:
    """dd's own time to copy `source` into `directory` and fsync it (conv=fsync), as it reports."""
    target = directory / "dd-baseline.bin"
    try:
        finished = subprocess.run(
            [
                "dd",
                f"if={source.path}",
                f"of={target}",
                f"bs={CHUNK_BYTES}",
                f"count={source.size // CHUNK_BYTES}",
                "conv=fsync",
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "LC_ALL": "C"},
        )
    finally:
        target.unlink(missing_ok=True)
    copied = _DD_COPIED.search(finished.stderr)
    if copied is None or int(copied[1]) != source.size:
        raise SystemExit(f"bench: dd did not copy {source.size} bytes:\n{finished.stderr}")
    return float(copied[2])


async def concurrent_uploads(
    server: Server, token: str, bodies: list[bytes], rounds: int
) -> ConcurrentUploads:
    """`rounds` measured rounds (one unmeasured first) of all `bodies` uploaded at once.

    Each round starts every upload together and ends when the last is answered; its files
    are deleted between rounds, outside the time measured.
    """
    connections = len(bodies)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    latencies: list[float] = []
    errors: list[str] = []
    stored = 0
    seconds = 0.0
    async with httpx.AsyncClient(limits=limits, timeout=120, headers=auth(token)) as client:

        async def upload(number: int, body: bytes) -> tuple[float, str, str | None]:
            started = time.perf_counter()
            try:
                response = await client.post(
                    upload_url(server.base, f"small-{number}.bin"),
                    content=body,
                    headers={"Content-Type": "application/octet-stream"},
                )
            except httpx.HTTPError as exc:
                return time.perf_counter() - started, "", f"{type(exc).__name__}: {exc}"
            file_id, error = checked_file(response, len(body), None)
            return time.perf_counter() - started, file_id, error

        async def delete(file_id: str) -> None:
            if file_id:
                (await client.delete(f"{server.base}/api/files/{file_id}")).raise_for_status()

        server_cpu = client_cpu = 0.0
        for round_number in range(rounds + 1):
            measured = round_number > 0
            server_before, client_before = cpu_seconds(server.api), time.process_time()
            started = time.perf_counter()
            results = await asyncio.gather(
                *(upload(number, body) for number, body in enumerate(bodies))
            )
            if measured:
                seconds += time.perf_counter() - started
                server_cpu += cpu_seconds(server.api) - server_before
                client_cpu += time.process_time() - client_before
                latencies += [elapsed * 1000 for elapsed, _, _ in results]
                stored += sum(1 for _, _, error in results if error is None)
            errors += [error for _, _, error in results if error is not None]
            await asyncio.gather(*(delete(file_id) for _, file_id, _ in results))
    return ConcurrentUploads(latencies, stored, seconds, errors, client_cpu, server_cpu)


def register(base: str) -> str:
    """Sign the bench's user up; its token."""
    name = f"bench{uuid.uuid4().hex[:8]}"
    user = {"username": name, "email": f"{name}@bench.test", "password": "password123"}
    answer = httpx.post(f"{base}/api/users", json={"user": user}, timeout=60)
    token: str = answer.raise_for_status().json()["user"]["token"]
    return token


def request_process(supervisor: psutil.Process) -> psutil.Process:
    """granian's one worker: the process that runs the app (the supervisor only watches it)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        workers = [
            child
            for child in supervisor.children(recursive=True)
            if "python" in child.name().lower() or "granian" in " ".join(child.cmdline())
        ]
        if len(workers) == 1:
            return workers[0]
        time.sleep(0.1)
    raise SystemExit(f"bench: expected one granian worker under {supervisor.pid}")


def granian_command(settings: Settings, port: int, factory: str) -> list[str]:
    """One granian worker serving what `factory` builds, with the options `portico serve` gives.

    Those are the ones on memory and connections: the backlog, backpressure at
    APP_MAX_CONNECTIONS and the head timeout (the allocator setting is in the environment,
    see `serving`).
    """
    head_timeout = min(
        settings.app.header_read_timeout_seconds, settings.app.keepalive_timeout_seconds
    )
    return [
        *(sys.executable, "-m", "granian", "--interface", "asgi", "--no-ws", "--factory"),
        *("--workers", "1", "--host", "127.0.0.1", "--port", str(port)),
        *("--backlog", str(LISTEN_BACKLOG)),
        *("--backpressure", str(settings.app.max_connections)),
        *("--http1-header-read-timeout", str(int(head_timeout * 1000))),
        factory,
    ]


@contextlib.contextmanager
def serving(
    env: dict[str, str], settings: Settings, log: Path, factory: str = PORTICO_APP
) -> Iterator[Server]:
    """`granian_command` run with `env` and the allocator setting `portico serve` gives.

    That setting makes freed large blocks go back to the system at once. The app must answer
    `GET /health/live`; the server's output goes to `log`.
    """
    port = free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(
            granian_command(settings, port, factory),
            env={GRANIAN_ALLOCATOR_ENV: GRANIAN_ALLOCATOR_CONF, **env},
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_live(port, process)
        api = request_process(psutil.Process(process.pid))
        yield Server(f"http://127.0.0.1:{port}", api, log)
    finally:
        process.terminate()
        process.wait(timeout=15)


def measure_big_uploads(
    server: Server, sink: Server, token: str, source: SourceFile, *, directory: Path, repeats: int
) -> BigRuns:
    """dd, the upload, the sink and the hashing sink, `repeats` times each, interleaved.

    Odd rounds run them in that order, even rounds in the reverse one, so that none of them
    always follows another. One unmeasured round comes first, printed as round 0: the first
    200 MiB written in a run took two to five times as long as the next, for dd and the
    upload alike.
    """
    runs = BigRuns([], [], [], [])
    print(
        f"\n{source.size / MIB:g} MiB, dd conv=fsync against POST /api/files: the upload fsyncs "
        "the file and its directory\nbefore it answers 201, so the baseline is a durable "
        "write of the same bytes to the same directory too.\nsink: the same client and bytes "
        "to a bare ASGI app on granian with the same options, which drops the body;\n"
        "sink+sha: the same, hashing the body with SHA-256 on the event loop. CPU and RSS are "
        "those of the process that served the request."
    )
    print(
        f"{'round':>5} {'what':8} {'seconds':>8} {'MB/s':>8} {'client CPU':>11} "
        f"{'srv CPU':>8} {'RSS before':>11} {'RSS peak':>9} {'growth':>7}"
    )
    measured = {
        "upload": runs.uploads,
        "sink": runs.sinks,
        "sink+sha": runs.hashing_sinks,
    }
    for round_number in range(repeats + 1):
        order = ["dd", *measured]
        for what in order if round_number % 2 else reversed(order):
            if what == "dd":
                seconds = dd_seconds(source, directory)
                if round_number:
                    runs.dd_seconds.append(seconds)
                print(
                    f"{round_number:5d} {'dd':8} {seconds:8.2f} {source.size / seconds / MB:8.0f}"
                )
                continue
            if what == "upload":
                run = upload_big(server, token, source)
            else:
                run = sink_big(sink, SINK_PATH if what == "sink" else HASHING_SINK_PATH, source)
            if round_number:
                measured[what].append(run)
            print(
                f"{round_number:5d} {what:8} {run.seconds:8.2f} "
                f"{source.size / run.seconds / MB:8.0f} "
                f"{run.client_cpu_seconds / run.seconds:10.0%} "
                f"{run.server_cpu_seconds / run.seconds:8.0%} "
                f"{run.rss_before / MB:8.1f} MB {run.rss_peak / MB:6.1f} MB "
                f"{run.rss_growth / MB:+7.1f}" + (f"  ERROR {run.error}" if run.error else "")
            )
    return runs


def measure_downloads(
    server: Server, token: str, body: bytes, args: argparse.Namespace
) -> tuple[Measurement, Measurement, str | None]:
    """hello, then `GET /api/files/{id}` of `body` by its owner, each warmed up then measured.

    The file is read once first, and must come back byte for byte.
    """
    answer = httpx.post(
        upload_url(server.base, "read.bin"),
        content=body,
        headers={**auth(token), "Content-Type": "application/octet-stream"},
    )
    file_id, error = checked_file(answer, len(body), hashlib.sha256(body).hexdigest())
    if error is not None:
        return _failed(), _failed(), f"upload of the file to read: {error}"
    url = f"{server.base}/api/files/{file_id}"
    read = httpx.get(url, headers=auth(token))
    if read.status_code != 200 or read.content != body:
        return _failed(), _failed(), f"GET answered {read.status_code}, {len(read.content)} bytes"
    results = []
    for path, signed_in in ((HELLO_PATH, None), (f"/api/files/{file_id}", token)):
        for seconds in (args.warm_up, args.seconds):
            result = run_wrk(
                server.base + path,
                connections=args.connections,
                seconds=seconds,
                token=signed_in,
                script=None,
            )
        results.append(result)
    delete_file(server.base, token, file_id)
    return results[0], results[1], None


def _failed() -> Measurement:
    return Measurement(0.0, 0.0, 0.0, failures=1, requests=0, seconds=1.0)


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--big-mib", type=int, default=200, help="the streamed upload's size")
    parser.add_argument("--repeats", type=int, default=3, help="dd and big uploads, each")
    parser.add_argument("--connections", type=int, default=32, help="concurrent uploads, wrk")
    parser.add_argument("--small-mib", type=int, default=1, help="concurrent uploads, download")
    parser.add_argument("--rounds", type=int, default=5, help="measured concurrent rounds")
    parser.add_argument("--seconds", type=float, default=5.0, help="each wrk measurement")
    parser.add_argument("--warm-up", type=float, default=2.0, help="unmeasured wrk seconds first")
    parser.add_argument("--directory", type=Path, default=None, help="storage, source and dd")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    return parser.parse_args()


def median_rate(size: int, runs: list[BigUpload]) -> float:
    """MB/s of the median run: `size` bytes over its seconds."""
    return size / statistics.median(run.seconds for run in runs) / MB


def most_client_busy(runs: list[BigUpload]) -> float:
    """The client's CPU over wall time, in the run where that share was largest."""
    return max(run.client_cpu_seconds / run.seconds for run in runs)


def report(
    *,
    args: argparse.Namespace,
    big: BigRuns,
    concurrent: ConcurrentUploads,
    downloads: tuple[Measurement, Measurement, str | None],
    log_errors: list[str],
) -> None:
    """Print the figures and a verdict per target; exit 1 if one was missed.

    The sink's ratio to dd follows the verdicts as information, not a target: no app on
    this server can take a body in faster than the sink does, so it bounds the upload's
    ratio on this server and disk. A sink run that did not read (or hash) the whole body
    voids that bound, and exits 1 too. The server logs' error lines are printed, as a lead
    when a request failed.
    """
    size = args.big_mib * MIB
    dd_rate = size / statistics.median(big.dd_seconds) / MB
    upload_rate = median_rate(size, big.uploads)
    sink_rate = median_rate(size, big.sinks)
    hashing_sink_rate = median_rate(size, big.hashing_sinks)
    ratio = upload_rate / dd_rate
    sink_ratio = sink_rate / dd_rate
    growth = max(run.rss_growth for run in big.uploads) / MB
    client_busy = most_client_busy(big.uploads)
    sink_client_busy = most_client_busy([*big.sinks, *big.hashing_sinks])
    upload_errors = [run.error for run in big.uploads if run.error]
    sink_errors = [run.error for run in [*big.sinks, *big.hashing_sinks] if run.error]
    hello, download, download_error = downloads
    small = args.small_mib * MIB

    print(f"\n{'figure':52} {'value':>12}")
    rows = [
        (f"dd conv=fsync, {args.big_mib} MiB, median MB/s", f"{dd_rate:.0f}"),
        ("POST /api/files, same bytes, median MB/s", f"{upload_rate:.0f}"),
        ("bare granian body sink MB/s", f"{sink_rate:.0f}"),
        ("sink + SHA-256 MB/s", f"{hashing_sink_rate:.0f}"),
        ("upload / dd", f"{ratio:.3f}"),
        ("sink / dd", f"{sink_ratio:.3f}"),
        ("sink + SHA-256 / dd", f"{hashing_sink_rate / dd_rate:.3f}"),
        ("upload / sink", f"{upload_rate / sink_rate:.3f}"),
        ("API RSS growth during an upload, worst, MB", f"{growth:+.1f}"),
        ("client CPU during an upload, worst, of wall time", f"{client_busy:.0%}"),
        ("client CPU during a sink upload, worst, of wall time", f"{sink_client_busy:.0%}"),
        (
            f"{args.connections} x {args.small_mib} MiB at once: uploads/s",
            f"{concurrent.per_second:.1f}",
        ),
        ("  latency p50 ms", f"{percentile(concurrent.latencies_ms, 50):.1f}"),
        ("  latency p99 ms", f"{percentile(concurrent.latencies_ms, 99):.1f}"),
        ("  errors, all rounds", f"{len(concurrent.errors)}"),
        ("  API CPU, of wall time", f"{concurrent.server_cpu_seconds / concurrent.seconds:.0%}"),
        ("  client CPU, of wall time", f"{concurrent.client_cpu_seconds / concurrent.seconds:.0%}"),
    ]
    for label, value in rows:
        print(f"{label:52} {value:>12}")
    print(f"\nwrk -t1 -c{args.connections}, {args.seconds:g} s after {args.warm_up:g} s of warm-up")
    print(
        f"{'endpoint':36} {'req/s':>8} {'MB/s':>7} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'ratio':>6} {'fail':>5}"
    )
    for label, result, body_bytes in (
        ("hello", hello, 0),
        (f"GET /api/files/{{id}} ({args.small_mib} MiB)", download, small),
    ):
        print(
            f"{label:36} {result.per_second:8.0f} {result.per_second * body_bytes / MB:7.0f} "
            f"{result.p50_ms:8.2f} {result.p99_ms:8.2f} "
            f"{result.per_second / hello.per_second if hello.per_second else 0:6.3f} "
            f"{result.failures:5d}"
        )
    if client_busy > CLIENT_BUSY_FRACTION:
        print(f"note: the client was busy {client_busy:.0%} of an upload: it may be the limit")
    if sink_client_busy > CLIENT_BUSY_FRACTION:
        print(
            f"note: the client was busy {sink_client_busy:.0%} of a sink upload: the sink's "
            "figures may be the client's, not the server's"
        )
    for error in [
        *upload_errors,
        *sink_errors,
        *dict.fromkeys(concurrent.errors),
        download_error,
    ]:
        if error:
            print(f"error: {error}")
    for line in log_errors[:20]:
        print(f"server log: {line}")

    download_failures = hello.failures + download.failures + (download_error is not None)
    throughput = (
        f"upload {upload_rate:.0f} MB/s >= {TARGET_THROUGHPUT_RATIO} x dd's {dd_rate:.0f} "
        f"(ratio {ratio:.3f})"
    )
    verdicts = [
        (throughput, ratio >= TARGET_THROUGHPUT_RATIO and not upload_errors),
        (
            f"API RSS growth {growth:+.1f} MB < {TARGET_RSS_GROWTH_MB:g} MB",
            growth < TARGET_RSS_GROWTH_MB,
        ),
        (f"concurrent uploads: {len(concurrent.errors)} errors", not concurrent.errors),
        (
            f"downloads: {download_failures} errors or non-2xx (no speed target)",
            download_failures == 0,
        ),
    ]
    print()
    for text, held in verdicts:
        print(f"{'PASS' if held else 'MISS'}  {text}")
    print(
        f"info  bare granian body sink {sink_rate:.0f} MB/s = {sink_ratio:.3f} x dd's "
        f"{dd_rate:.0f}: the most any app on this server and disk could reach (not a target)"
        + ("; VOID, a sink run failed" if sink_errors else "")
    )
    if sink_errors or not all(held for _, held in verdicts):
        raise SystemExit(1)


def main() -> None:
    """Start the database and the servers, measure the three parts, print the verdicts."""
    args = parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench: wrk is missing; install it with `apt-get install wrk`")
    size = args.big_mib * MIB
    small = args.small_mib * MIB
    with contextlib.ExitStack() as stack:
        work = Path(
            stack.enter_context(
                tempfile.TemporaryDirectory(prefix="portico-bench-files-", dir=args.directory)
            )
        )
        storage = work / "uploads"
        storage.mkdir()
        env = {
            **os.environ,
            "LOG_LEVEL": "WARNING",
            "DATA_DIR": str(work / "data"),
            "STORAGE_BACKEND": "local",
            "STORAGE_LOCAL_DIR": str(storage),
            "RATE_LIMIT_REGISTRATIONS_PER_IP": "1000000",
            "APP_WORKERS": "1",
            "DATABASE_POOL_SIZE": str(args.connections),
            # The concurrent uploads all stream at once, each holding its pooled connection.
            "APP_MAX_STREAMED_BODIES": str(args.connections),
            # As content.py: the API does not relay the outbox, a `portico worker` would.
            "OUTBOX_RELAY_IN_API": "false",
            # Jobs run in the API process, but attachments that are not images get none.
            "JOBS_QUEUE": "in-process",
            "PYTHONPATH": str(ROOT),
        }
        defaults = StorageSettings()
        if size > defaults.attachment_max_bytes:
            env["FILES_ATTACHMENT_MAX_BYTES"] = str(size)
        # Each file is deleted once measured: at most one big file and one round are kept.
        if size + args.connections * small > defaults.quota_bytes:
            env["FILES_QUOTA_BYTES"] = str(size + args.connections * small)
        # The bench's one user uploads more than a user may in the limit's window: the big
        # rounds, the concurrent rounds (one unmeasured each) and the file to read.
        uploads = (args.repeats + 1) + (args.rounds + 1) * args.connections + 1
        if uploads > RateLimitSettings().uploads_per_user_limit:
            env["RATE_LIMIT_UPLOADS_PER_USER"] = str(uploads)
        if args.database_url:
            env["DATABASE_URL"] = args.database_url
        settings = stack.enter_context(resolved_database(load_settings(env, env_file=None)))
        assert settings.database.url is not None
        env["DATABASE_URL"] = settings.database.url
        subprocess.run([PORTICO, "db", "upgrade"], env=env, cwd=ROOT, check=True)
        started = time.perf_counter()
        source = write_source(work / "source.bin", size)
        print(
            f"storage, source file and dd's output in {work} "
            f"(source written in {time.perf_counter() - started:.1f} s)"
        )
        server = stack.enter_context(serving(env, settings, work / "server.log"))
        sink = stack.enter_context(serving(env, settings, work / "sink.log", SINK_APP))
        token = register(server.base)
        big = measure_big_uploads(
            server, sink, token, source, directory=storage, repeats=args.repeats
        )
        bodies = [random_body(small) for _ in range(args.connections)]
        concurrent = asyncio.run(concurrent_uploads(server, token, bodies, args.rounds))
        downloads = measure_downloads(server, token, random_body(small), args)
        log_errors = [
            f"{log.name}: {line}"
            for log in (server.log, sink.log)
            for line in log.read_text(errors="replace").splitlines()
            if "ERROR" in line or "Traceback" in line
        ]
    report(
        args=args,
        big=big,
        concurrent=concurrent,
        downloads=downloads,
        log_errors=log_errors,
    )


if __name__ == "__main__":
    main()
