"""Content read and write paths on seeded data, against a bare hello endpoint on the same server.

One `granian` worker serves Portico, with the hello handler of `bench/content_app.py`
beside it, on PostgreSQL seeded with 50 users, 500 articles and 5,000 comments. `wrk`
drives each endpoint in turn at 32 connections; the table shows req/s, p50 and p99, and
each endpoint's ratio to hello measured in this one run. The write rows: favorite and
unfavorite alternating, and `PUT /api/articles/{slug}` by the article's author (the bench
user), every request a real change, on one article and on one article per connection.

Targets, for the authenticated `GET /api/articles?limit=20` with the content cache off:
ratio to hello >= 0.06, p99 < 50 ms, and no error or non-2xx response in any run.

With `--baseline REV` (or BENCH_BASELINE=REV), a second server runs the code of REV, checked
out in a temporary git worktree and put first on the server's PYTHONPATH, on the same
database and the same venv. The signed-in list, favorite/unfavorite and the article update
(with hello and the update spread over one article per connection beside them, to tell
noise and lock waits apart) are then measured on both servers in alternating slices, and
the working tree must keep at least 0.95 of the baseline's req/s on the three.

    make bench                     # or: .venv/bin/python bench/content.py
    .venv/bin/python bench/content.py --cache    # anonymous reads served from the cache
    .venv/bin/python bench/content.py --baseline e9c310c
    BENCH_BASELINE=e9c310c make bench

Needs `wrk` (Debian package `wrk`). DATABASE_URL picks the PostgreSQL server; unset, the
embedded one is used in a temporary directory. Migrations and the seed always run with the
working tree's code.
"""

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.network import free_port

from adapters.sqlalchemy.engine import to_psycopg_url
from bench.asgi_servers import wait_live
from bench.content_app import HELLO_PATH
from entrypoints.bootstrap import resolved_database
from entrypoints.config import load_settings

ROOT = Path(__file__).resolve().parents[1]
PORTICO = str(Path(sys.executable).with_name("portico"))
SEED = ["--users", "50", "--articles", "500", "--comments", "5000", "--seed", "1"]
TARGET_RATIO = 0.06
TARGET_P99_MS = 50.0
TARGET_BASELINE_RATIO = 0.95
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_ALTERNATE = """
local n = 0
request = function()
  n = n + 1
  if n % 2 == 1 then return wrk.format("POST") end
  return wrk.format("DELETE")
end
"""
# Every request sends a description no earlier request sent (this run's tag and a counter),
# so each one changes the article even when 32 of them are in flight at once: two bodies
# alternating would let a request land on the value it sends and change nothing. The
# requests go round the paths in PATHS: one article (every edit waits for the one before
# it on the row's lock), or one per connection (the edits seldom meet).
_UPDATE = """
local paths = {PATHS}
local n = 0
wrk.method = "PUT"
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  local body = '{"article":{"description":"bench @RUN@ ' .. n .. '"}}'
  return wrk.format(nil, paths[n % #paths + 1], nil, body)
end
"""
SIGNED_IN_LIST = "GET /api/articles?limit=20 (signed in)"
FAVORITE = "POST+DELETE .../favorite"
UPDATE = "PUT /api/articles/{slug} (one article)"
UPDATE_SPREAD = "PUT /api/articles/{slug} (one per conn.)"
HELLO = "hello"
# The rows whose req/s must stay within TARGET_BASELINE_RATIO of the baseline's; hello and
# the spread edits are measured beside them to tell the host's noise and lock waits apart.
TARGETED = (SIGNED_IN_LIST, FAVORITE, UPDATE)


@dataclass(frozen=True, slots=True)
class Measurement:
    """What wrk reported for one endpoint."""

    per_second: float
    p50_ms: float
    p99_ms: float
    failures: int
    requests: int
    seconds: float


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One row: a path, the token to send (if any), and a wrk script (None for GET)."""

    label: str
    path: str
    token: str | None = None
    script: str | None = None


@dataclass(frozen=True, slots=True)
class Server:
    """A running server, the source tree its code was imported from, and its database."""

    name: str
    base: str
    source: Path
    database_url: str


def _milliseconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def run_wrk(
    url: str, *, connections: int, seconds: float, token: str | None, script: str | None
) -> Measurement:
    """Run wrk against `url` and parse its report; failures count errors and non-2xx."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    if token:
        command += ["-H", f"Authorization: Token {token}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        if script:
            lua.write(script.replace("@RUN@", uuid.uuid4().hex[:12]))
            lua.flush()
            command += ["-s", lua.name]
        report = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", report, re.MULTILINE))
    if "99" not in latency:
        raise SystemExit(f"bench: no latency in wrk's report for {url}:\n{report}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", report
    )
    total = re.search(r"(\d+) requests in (\S+),", report)
    failures = int(non_2xx[1]) if non_2xx else 0
    failures += sum(int(n) for n in socket.groups()) if socket else 0
    return Measurement(
        per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", report)[1]),  # type: ignore[index]
        p50_ms=_milliseconds(latency["50"]),
        p99_ms=_milliseconds(latency["99"]),
        failures=failures,
        requests=int(total[1]),  # type: ignore[index]
        seconds=_milliseconds(total[2]) / 1000,  # type: ignore[index]
    )


def vacuum(url: str) -> None:
    """VACUUM ANALYZE after the bulk load, as autovacuum would in time: fresh statistics."""
    engine = sa.create_engine(to_psycopg_url(url), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with engine.connect() as connection:
        connection.execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()


def update_script(slugs: list[str]) -> str:
    """The wrk script that edits the articles `slugs` in turn."""
    paths = ", ".join(f'"/api/articles/{slug}"' for slug in slugs)
    return _UPDATE.replace("{PATHS}", "{" + paths + "}")


def prepare(base: str, articles_to_edit: int) -> tuple[str, str, str, list[str]]:
    """Register the bench user, follow ten authors and publish `articles_to_edit` articles.

    Returns its token, a seeded article's slug, a username and the bench user's own slugs.
    """
    name = f"bench{uuid.uuid4().hex[:8]}"
    user = {"username": name, "email": f"{name}@bench.test", "password": "password123"}
    token = httpx.post(f"{base}/api/users", json={"user": user}).raise_for_status().json()
    token = token["user"]["token"]
    headers = {"Authorization": f"Token {token}"}
    articles = httpx.get(f"{base}/api/articles?limit=100").raise_for_status().json()["articles"]
    if not articles:
        raise SystemExit("bench: the seed created no articles")
    authors = list(dict.fromkeys(a["author"]["username"] for a in articles))
    for author in authors[:10]:
        httpx.post(f"{base}/api/profiles/{author}/follow", headers=headers).raise_for_status()
    own = []
    for number in range(articles_to_edit):
        article = {"title": f"Bench {name} {number}", "description": "-", "body": "Edited."}
        created = httpx.post(f"{base}/api/articles", json={"article": article}, headers=headers)
        own.append(created.raise_for_status().json()["article"]["slug"])
    return token, articles[0]["slug"], authors[0], own


def settle(url: str, timeout: float = 30.0) -> None:
    """Wait until no request is left in the database (wrk leaves some when it stops).

    A slice's leftover edits would otherwise queue on the same row as the next slice's,
    on whichever server it runs.
    """
    engine = sa.create_engine(to_psycopg_url(url), poolclass=NullPool)
    busy = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid() AND state <> 'idle' AND backend_type = 'client backend'"
    )
    deadline = time.monotonic() + timeout
    with engine.connect() as connection:
        while connection.execute(busy).scalar_one() and time.monotonic() < deadline:
            connection.rollback()
            time.sleep(0.05)
    engine.dispose()


def backdate(url: str, slugs: list[str]) -> None:
    """Date the bench's own articles back, out of the newest pages.

    The list rows then read the seeded articles only, as before the bench published any.
    """
    engine = sa.create_engine(to_psycopg_url(url), poolclass=NullPool)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE articles SET created_at = timestamptz '2000-01-01 00:00:00+00'"
                " WHERE slug = ANY(:slugs)"
            ),
            {"slugs": slugs},
        )
    engine.dispose()


def server_env(env: dict[str, str], source: Path) -> dict[str, str]:
    """`env` with `source/src` first on PYTHONPATH (before the editable install's .pth)."""
    return {**env, "PYTHONPATH": os.pathsep.join((str(source / "src"), str(ROOT)))}


def check_source(env: dict[str, str], source: Path) -> None:
    """Fail unless a process started like the server imports Portico from `source/src`."""
    for module in ("adapters", "application", "domain", "entrypoints"):
        found = subprocess.run(
            [sys.executable, "-c", f"import {module}; print({module}.__file__)"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if not Path(found).resolve().is_relative_to((source / "src").resolve()):
            raise SystemExit(f"bench: {module} imports from {found}, not from {source}/src")


@contextlib.contextmanager
def worktree(revision: str) -> Iterator[tuple[Path, str]]:
    """A detached worktree of `revision` in a temporary directory, removed afterwards."""
    found = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode:
        raise SystemExit(f"bench: no commit {revision!r} in {ROOT}")
    commit = found.stdout.strip()
    with tempfile.TemporaryDirectory(prefix="portico-baseline-") as parent:
        path = Path(parent) / "tree"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--quiet", "--detach", str(path), commit],
            check=True,
        )
        try:
            yield path, commit
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], check=False
            )
            subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"], check=False)


@contextlib.contextmanager
def serving(name: str, env: dict[str, str], source: Path) -> Iterator[Server]:
    """One granian worker serving `bench.content_app` with the code of `source/src`."""
    env = server_env(env, source)
    check_source(env, source)
    port = free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "granian", "--interface", "asgi", "--no-ws", "--factory"),
            *("--workers", "1", "--host", "127.0.0.1", "--port", str(port)),
            "bench.content_app:build_app",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_live(port, process)
        yield Server(name, f"http://127.0.0.1:{port}", source, env["DATABASE_URL"])
    finally:
        process.terminate()
        process.wait(timeout=15)


def measure(
    server: Server, endpoint: Endpoint, seconds: float, args: argparse.Namespace
) -> Measurement:
    """One wrk run, then wait for the requests it left in flight to finish."""
    result = run_wrk(
        server.base + endpoint.path,
        connections=args.connections,
        seconds=seconds,
        token=endpoint.token,
        script=endpoint.script,
    )
    settle(server.database_url)
    return result


def measure_table(
    server: Server, endpoints: list[Endpoint], args: argparse.Namespace
) -> dict[str, Measurement]:
    """Warm up and measure each endpoint in turn on one server."""
    results = {}
    for endpoint in endpoints:
        for seconds in (args.warm_up, args.seconds):
            results[endpoint.label] = measure(server, endpoint, seconds, args)
    return results


def compare(
    servers: tuple[Server, Server], endpoints: list[Endpoint], args: argparse.Namespace
) -> dict[str, tuple[Measurement, Measurement]]:
    """Measure each endpoint on both servers in alternating slices; totals per server.

    The order swaps every pair (baseline first, then current first), so a drift of the
    host's speed through the run falls on both sides alike. Only one server is loaded at a
    time; the other idles, and each slice starts once the one before has drained.
    """
    totals = {}
    print(f"\n{'endpoint':42} {'slice':>5} {'baseline':>9} {'current':>9} {'ratio':>6}")
    for endpoint in endpoints:
        runs: dict[str, list[Measurement]] = {server.name: [] for server in servers}
        for server in servers:
            measure(server, endpoint, args.warm_up, args)
        for number in range(args.slices):
            order = servers if number % 2 == 0 else servers[::-1]
            for server in order:
                runs[server.name].append(measure(server, endpoint, args.slice_seconds, args))
            baseline, current = (runs[server.name][-1] for server in servers)
            print(
                f"{endpoint.label:42} {number + 1:5d} {baseline.per_second:9.0f} "
                f"{current.per_second:9.0f} {current.per_second / baseline.per_second:6.3f}"
            )
        baseline, current = (_total(runs[server.name]) for server in servers)
        totals[endpoint.label] = (baseline, current)
    return totals


def _total(runs: list[Measurement]) -> Measurement:
    """Slices added up: req/s over all of them; the worst p50 and p99 of any slice."""
    requests = sum(run.requests for run in runs)
    seconds = sum(run.seconds for run in runs)
    return Measurement(
        per_second=requests / seconds,
        p50_ms=max(run.p50_ms for run in runs),
        p99_ms=max(run.p99_ms for run in runs),
        failures=sum(run.failures for run in runs),
        requests=requests,
        seconds=seconds,
    )


def parse_args() -> argparse.Namespace:
    """The command line; BENCH_BASELINE gives `--baseline` its default."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--warm-up", type=float, default=2.0, help="unmeasured seconds first")
    parser.add_argument("--cache", action="store_true", help="serve anonymous reads cached")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument(
        "--baseline",
        metavar="REV",
        default=os.environ.get("BENCH_BASELINE") or None,
        help="also serve the code of REV and compare the write paths to it "
        "(default: $BENCH_BASELINE)",
    )
    parser.add_argument("--slices", type=int, default=4, help="baseline/current slice pairs")
    parser.add_argument("--slice-seconds", type=float, default=3.0)
    return parser.parse_args()


def report(
    args: argparse.Namespace,
    results: dict[str, Measurement],
    compared: dict[str, tuple[Measurement, Measurement]],
) -> None:
    """Print the table, the comparison and the verdicts; exit 1 if a target was missed."""
    hello = results[HELLO].per_second
    cache = "on" if args.cache else "off"
    print(f"\n{args.connections} connections, {args.seconds:.0f} s each, 1 worker, cache {cache}")
    print(f"{'endpoint':42} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>6} {'fail':>5}")
    for label, result in results.items():
        print(
            f"{label:42} {result.per_second:9.0f} {result.p50_ms:8.2f} {result.p99_ms:8.2f} "
            f"{result.per_second / hello:6.3f} {result.failures:5d}"
        )
    target = results[SIGNED_IN_LIST]
    ratio = target.per_second / hello
    failures = sum(result.failures for result in results.values())
    failures += sum(b.failures + c.failures for b, c in compared.values())
    verdicts = [
        (f"signed-in list ratio {ratio:.3f} >= {TARGET_RATIO}", ratio >= TARGET_RATIO),
        (f"signed-in list p99 {target.p99_ms:.1f} ms < {TARGET_P99_MS:.0f}", target.p99_ms < 50),
    ]
    if compared:
        print(f"\nagainst {args.baseline}, totals over the slices (p99: worst slice)")
        print(
            f"{'endpoint':42} {'baseline':>9} {'current':>9} {'cur/base':>8} "
            f"{'p99 base':>8} {'p99 cur':>8} {'fail b/c':>9}"
        )
        for label, (before, after) in compared.items():
            change = after.per_second / before.per_second
            print(
                f"{label:42} {before.per_second:9.0f} {after.per_second:9.0f} {change:8.3f} "
                f"{before.p99_ms:8.1f} {after.p99_ms:8.1f} "
                f"{f'{before.failures}/{after.failures}':>9}"
            )
            if label in TARGETED:
                verdicts.append(
                    (
                        f"{label} current/baseline {change:.3f} >= {TARGET_BASELINE_RATIO}",
                        change >= TARGET_BASELINE_RATIO,
                    )
                )
    verdicts.append((f"errors and non-2xx: {failures}", failures == 0))
    print()
    for text, held in verdicts:
        print(f"{'PASS' if held else 'MISS'}  {text}")
    if not all(held for _, held in verdicts):
        raise SystemExit(1)


def main() -> None:
    """Seed, serve, measure every endpoint and print the table and the verdict."""
    args = parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench: wrk is missing; install it with `apt-get install wrk`")

    with contextlib.ExitStack() as stack:
        # The baseline's worktree first: a revision that does not exist fails before the seed.
        tree, commit = stack.enter_context(worktree(args.baseline)) if args.baseline else (None, "")
        data_dir = stack.enter_context(tempfile.TemporaryDirectory())
        env = {
            **os.environ,
            "LOG_LEVEL": "WARNING",
            "DATA_DIR": data_dir,
            "RATE_LIMIT_AUTH_PER_IP": "1000000",
            "RATE_LIMIT_REGISTRATIONS_PER_IP": "1000000",
            # The bench's own user publishes 33 articles and favors thousands of times.
            "RATE_LIMIT_ARTICLES_PER_USER": "1000000",
            "RATE_LIMIT_FAVORITES_PER_USER": "1000000",
            "APP_WORKERS": "1",
            "CACHE_CONTENT": "true" if args.cache else "false",
            "DATABASE_POOL_SIZE": str(args.connections),
            "OUTBOX_RELAY_IN_API": "false",
            "PYTHONPATH": str(ROOT),
        }
        if args.database_url:
            env["DATABASE_URL"] = args.database_url
        # One database server for the whole run (the embedded one when DATABASE_URL is
        # unset), shared by the migration, the seed and every server process.
        settings = stack.enter_context(resolved_database(load_settings(env, env_file=None)))
        assert settings.database.url is not None
        env["DATABASE_URL"] = settings.database.url
        started = time.perf_counter()
        subprocess.run([PORTICO, "db", "upgrade"], env=env, cwd=ROOT, check=True)
        subprocess.run([PORTICO, "seed", *SEED], env=env, cwd=ROOT, check=True)
        vacuum(settings.database.url)
        print(f"seeded in {time.perf_counter() - started:.1f} s")

        current = stack.enter_context(serving("current", env, ROOT))
        token, slug, author, own = prepare(current.base, 1 + args.connections)
        backdate(settings.database.url, own)
        endpoints = [
            Endpoint(HELLO, HELLO_PATH),
            Endpoint("GET /api/articles?limit=20 (anonymous)", "/api/articles?limit=20"),
            Endpoint(SIGNED_IN_LIST, "/api/articles?limit=20", token),
            Endpoint("GET /api/articles/feed", "/api/articles/feed", token),
            Endpoint("GET /api/articles/{slug}", f"/api/articles/{slug}"),
            Endpoint("GET /api/articles/{slug}/comments", f"/api/articles/{slug}/comments"),
            Endpoint("GET /api/tags", "/api/tags"),
            Endpoint("GET /api/profiles/{username}", f"/api/profiles/{author}", token),
            Endpoint(FAVORITE, f"/api/articles/{slug}/favorite", token, _ALTERNATE),
            Endpoint(UPDATE, f"/api/articles/{own[0]}", token, update_script(own[:1])),
            Endpoint(UPDATE_SPREAD, f"/api/articles/{own[1]}", token, update_script(own[1:])),
        ]
        results = measure_table(current, endpoints, args)

        compared = {}
        if tree is not None:
            baseline = stack.enter_context(serving("baseline", env, tree))
            print(
                f"\nbaseline {args.baseline} ({commit[:12]}) from {tree}/src against the "
                f"working tree from {ROOT}/src; {args.slices} pairs of {args.slice_seconds:g} s "
                "slices, order swapped every pair"
            )
            rows = {endpoint.label: endpoint for endpoint in endpoints}
            compared = compare(
                (baseline, current),
                [rows[label] for label in (HELLO, SIGNED_IN_LIST, FAVORITE, UPDATE, UPDATE_SPREAD)],
                args,
            )

    report(args, results, compared)


if __name__ == "__main__":
    main()
