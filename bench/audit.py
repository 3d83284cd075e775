"""The audit log's costs (issue 14): writes with audit on against off, and filtered reads.

Everything runs in one schema of its own (created, migrated and dropped by the run), with
`portico seed` content (50 users, 500 articles) and two granian workers serving Portico
(as `bench/content.py` starts them) from the same code, settings and database, one with
AUDIT_ENABLED=true and one with AUDIT_ENABLED=false.

1. **Favorite and unfavorite, audit on against off.** `--connections` users (32), each
   registered by the run and on a keep-alive connection of its own, go round the seeded
   articles: `POST /api/articles/{slug}/favorite`, then `DELETE` of the same, so every
   request is a real change (and an audit entry when audit is on). The two servers are
   loaded in alternating slices (`--slices` pairs of `--slice-seconds`, audit off first in
   odd pairs and on first in even ones, after `--warm-up` seconds on each; one server
   loaded at a time), each slice ending only once every request it sent is answered. req/s
   is a server's requests over its seconds in all slices. Target: audit on >= 0.9 x audit
   off. The entries table's last id is read around every slice: audit on must write one
   entry per request and audit off none, or the ratio compares nothing and the run says
   MISS.
2. **`GET /api/admin/audit` over `--entries` entries (1,000,000).** The log is replaced
   by synthetic entries written by set-based `INSERT ... SELECT FROM generate_series`
   (`bench/audit_seed.py`): actors among 3,000 user ids (skewed: a few heavy, many light;
   6% worker, system or CLI), 40 actions, article, user and other targets, 2% denied and
   1% failed, a request id per two user entries, occurred_at rising with seq evenly over
   the year before the run, and the chain head set to the last one. The hash columns hold
   placeholder bytes (sha256 of the sequence number, not of the content): this measures
   reading, and the chain does not verify. Then VACUUM ANALYZE. An administrator (created
   with `portico users create-admin`) requests each filter the route offers (actorId,
   action, targetType+targetId, outcome=denied, since+until, requestId, a combination),
   the unfiltered page, and the action filter's second page through its nextCursor, on one
   connection for `--read-seconds` each, going round ten values of the filter (heavy to
   light actors and actions, ten articles, ten request ids, ten 30-day ranges ending 60 to
   123 days back). p50 and p99 per filter are reported, no target.

   Statements per request are counted in this process: the app is built here as the
   server builds it (`create_app`, same settings and database) and driven with Litestar's
   test client, and a SQLAlchemy `before_cursor_execute` listener on every `Engine`
   records each statement the request executes (the second request of each filter, so a
   process's one-off work is left out). pg_stat_statements would count them in the server,
   but it needs a server restart to load, which a bench on a shared PostgreSQL cannot do.
   Statements naming `audit_entries` are the read; the rest (the guard's session and user
   lookups) are reported beside them. Target: at most 2 audit statements per request (the
   page, and the count). Each audit statement is then explained (`EXPLAIN (ANALYZE,
   FORMAT JSON)`) with the request's values on its first run, and again on its sixth run
   once prepared as the app's driver prepares it, where PostgreSQL may switch to a generic
   plan (`bench/audit_plans.py`). Target: no Seq Scan on audit_entries in either plan.
   Every request must answer 200.

The reads run first, on the freshly analysed log; the favorites then write on top of it.

    make bench                   # or: .venv/bin/python bench/audit.py
    .venv/bin/python bench/audit.py --entries 50000 --slices 2 --slice-seconds 1.5 \
        --warm-up 1 --read-seconds 0.5        # a smoke run, under a minute

DATABASE_URL (or --database-url) picks the PostgreSQL server; unset, the embedded one is
used in a temporary directory. Either way the run works in a schema of its own.
"""

import argparse
import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.postgres import isolated_schema, run_alembic

from adapters.sqlalchemy.engine import to_psycopg_url
from bench.audit_reads import ReadRow, count_statements, measure_reads, print_reads
from bench.audit_seed import entries_written, read_cases, seed_entries
from bench.content import Server, serving
from bench.load import LoadResult
from bench.request_cycles import HOST, Cycle, auth, port_of, run_cycles
from entrypoints.bootstrap import resolved_database
from entrypoints.config import load_settings

ROOT = Path(__file__).resolve().parents[1]
PORTICO = str(Path(sys.executable).with_name("portico"))
SEED = ["--users", "50", "--articles", "500", "--comments", "0", "--seed", "1"]
PASSWORD = "bench-password-123"
TARGET_RATIO = 0.9
TARGET_AUDIT_STATEMENTS = 2


@dataclass(slots=True)
class Mode:
    """One server's favorite slices added up, and the audit entries they wrote."""

    name: str
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    entries: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def add(self, result: LoadResult, entries: int) -> None:
        """Count one slice in."""
        self.requests += result.requests
        self.errors += result.errors
        self.seconds += result.seconds
        self.entries += entries
        self.latencies_ms += result.latencies_ms

    @property
    def per_second(self) -> float:
        """Requests over seconds, all slices."""
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """The latency percentile `p` over all slices."""
        return LoadResult(self.requests, self.errors, self.seconds, self.latencies_ms).percentile(p)


def parse_args() -> argparse.Namespace:
    """The command line; the defaults are the issue's figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=1_000_000, help="audit entries seeded")
    parser.add_argument("--connections", type=int, default=32, help="favoriting users at once")
    parser.add_argument("--slices", type=int, default=4, help="audit off/on slice pairs")
    parser.add_argument("--slice-seconds", type=float, default=3.0)
    parser.add_argument("--warm-up", type=float, default=2.0, help="unmeasured seconds, each")
    parser.add_argument("--read-seconds", type=float, default=5.0, help="each read filter")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    return parser.parse_args()


def register(base: str, count: int) -> list[str]:
    """Sign `count` new users up; their tokens."""
    tokens = []
    for _ in range(count):
        name = f"bench{uuid.uuid4().hex[:8]}"
        user = {"username": name, "email": f"{name}@bench.test", "password": PASSWORD}
        answer = httpx.post(f"{base}/api/users", json={"user": user}, timeout=60)
        tokens.append(answer.raise_for_status().json()["user"]["token"])
    return tokens


def sign_in_admin(env: dict[str, str], base: str) -> str:
    """Create an administrator with the CLI and sign in; the token."""
    name = f"admin{uuid.uuid4().hex[:8]}"
    email = f"{name}@bench.test"
    subprocess.run(
        [
            PORTICO,
            "users",
            "create-admin",
            "--email",
            email,
            "--username",
            name,
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    answer = httpx.post(
        f"{base}/api/users/login", json={"user": {"email": email, "password": PASSWORD}}, timeout=60
    )
    token: str = answer.raise_for_status().json()["user"]["token"]
    return token


def article_slugs(url: str) -> list[str]:
    """Every seeded article's slug."""
    engine = sa.create_engine(to_psycopg_url(url), poolclass=NullPool)
    with engine.connect() as connection:
        slugs = list(
            connection.execute(sa.text("SELECT slug FROM articles ORDER BY slug")).scalars()
        )
    engine.dispose()
    if not slugs:
        raise SystemExit("bench: the seed created no articles")
    return slugs


def favorite_cycles(tokens: list[str], slugs: list[str]) -> list[Cycle]:
    """Per user: favorite then unfavorite each article in turn, starting at its own offset."""
    cycles = []
    for number, token in enumerate(tokens):
        start = number * len(slugs) // len(tokens)
        calls = [
            (method, f"/api/articles/{slug}/favorite")
            for slug in slugs[start:] + slugs[:start]
            for method in ("POST", "DELETE")
        ]
        cycles.append(Cycle.of(HOST, calls, headers=auth(token), group=2))
    return cycles


def measure_favorites(
    servers: tuple[Server, Server], cycles: list[Cycle], url: str, args: argparse.Namespace
) -> dict[str, Mode]:
    """Alternating slices on the two servers (off first, then on first, ...); totals per server."""
    modes = {server.name: Mode(server.name) for server in servers}
    for server in servers:
        asyncio.run(run_cycles(HOST, port_of(server.base), cycles, args.warm_up))
    print(
        f"\nfavorite + unfavorite, {len(cycles)} users at once, {args.slices} pairs of "
        f"{args.slice_seconds:g} s slices, order swapped every pair"
    )
    print(
        f"{'slice':>5} {'audit off':>10} {'audit on':>10} {'on/off':>7} "
        f"{'entries/requests off':>21} {'on':>11}"
    )
    for number in range(args.slices):
        order = servers if number % 2 == 0 else servers[::-1]
        slice_rates = {}
        slice_entries = {}
        for server in order:
            before = entries_written(url)
            result = asyncio.run(run_cycles(HOST, port_of(server.base), cycles, args.slice_seconds))
            written = entries_written(url) - before
            modes[server.name].add(result, written)
            slice_rates[server.name] = result.per_second
            slice_entries[server.name] = f"{written}/{result.requests}"
        off, on = (server.name for server in servers)
        print(
            f"{number + 1:5d} {slice_rates[off]:10.0f} {slice_rates[on]:10.0f} "
            f"{slice_rates[on] / slice_rates[off]:7.3f} {slice_entries[off]:>21} "
            f"{slice_entries[on]:>11}"
        )
    return modes


def verdicts(modes: dict[str, Mode], rows: list[ReadRow]) -> list[tuple[str, bool]]:
    """Every target, held or missed."""
    off, on = modes["audit off"], modes["audit on"]
    ratio = on.per_second / off.per_second if off.per_second else 0.0
    found = [
        (
            (
                f"favorite/unfavorite audit on {on.per_second:.0f} req/s >= {TARGET_RATIO} x "
                f"audit off {off.per_second:.0f} (ratio {ratio:.3f})"
            ),
            ratio >= TARGET_RATIO,
        ),
        (
            (
                f"audit on wrote one entry per request ({on.entries} entries, {on.requests} "
                "requests; none means FavoriteArticle/UnfavoriteArticle are not audited)"
            ),
            on.requests > 0 and on.entries == on.requests,
        ),
        (f"audit off wrote no entry ({off.entries})", off.entries == 0),
        (f"favorite errors and non-2xx: {off.errors + on.errors}", off.errors + on.errors == 0),
    ]
    for row in rows:
        label = row.case.label
        if row.error is not None or row.captured is None:
            found.append((f"{label}: {row.error or 'statements not counted'}", False))
            continue
        audit = len(row.captured.audit_statements)
        found.append(
            (
                (
                    f"{label}: {audit} audit statements per request <= "
                    f"{TARGET_AUDIT_STATEMENTS} (page + count)"
                ),
                0 < audit <= TARGET_AUDIT_STATEMENTS,
            )
        )
        scans = [plan for pair in row.plans for plan in pair if plan.seq_scan]
        found.append((f"{label}: no Seq Scan on audit_entries", not scans))
    return found


def main() -> None:
    """Seed, serve audit off and on, measure the writes and the reads, print the verdicts."""
    args = parse_args()
    with contextlib.ExitStack() as stack:
        data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="portico-bench-audit-"))
        env = {
            **os.environ,
            "LOG_LEVEL": "WARNING",
            "DATA_DIR": data_dir,
            "JWT_SECRET": secrets.token_urlsafe(48),
            "RATE_LIMIT_AUTH_PER_IP": "1000000",
            "RATE_LIMIT_REGISTRATIONS_PER_IP": "1000000",
            "RATE_LIMIT_FAVORITES_PER_USER": "1000000",
            "APP_WORKERS": "1",
            "CACHE_CONTENT": "false",
            "DATABASE_POOL_SIZE": str(args.connections),
            "OUTBOX_RELAY_IN_API": "false",
            "PYTHONPATH": str(ROOT),
        }
        if args.database_url:
            env["DATABASE_URL"] = args.database_url
        settings = stack.enter_context(resolved_database(load_settings(env, env_file=None)))
        assert settings.database.url is not None
        url = stack.enter_context(isolated_schema(settings.database.url, prefix="bench_audit"))
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
        end = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        seed_entries(url, args.entries, end)
        print(
            f"seeded {args.entries:,} audit entries and the content in "
            f"{time.perf_counter() - started:.1f} s"
        )

        off = stack.enter_context(serving("audit off", {**env, "AUDIT_ENABLED": "false"}, ROOT))
        on = stack.enter_context(serving("audit on", {**env, "AUDIT_ENABLED": "true"}, ROOT))
        admin = sign_in_admin({**env, "AUDIT_ENABLED": "true"}, on.base)
        rows = measure_reads(on, admin, read_cases(url, args.entries, end), args.read_seconds)
        count_statements({**env, "AUDIT_ENABLED": "true"}, admin, rows, url)
        print_reads(rows, args.entries, args.read_seconds)

        cycles = favorite_cycles(register(off.base, args.connections), article_slugs(url))
        modes = measure_favorites((off, on), cycles, url, args)
        off_mode, on_mode = modes["audit off"], modes["audit on"]
        for failure in [failure for cycle in cycles for failure in cycle.failures][:10]:
            print(f"failed: {failure}")
        print(
            f"\n{'mode':10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'entries':>8}"
        )
        for mode in (off_mode, on_mode):
            print(
                f"{mode.name:10} {mode.per_second:8.0f} {mode.percentile(50):8.2f} "
                f"{mode.percentile(99):8.2f} {mode.errors:7d} {mode.entries:8d}"
            )

    results = verdicts(modes, rows)
    print()
    for text, held in results:
        print(f"{'PASS' if held else 'MISS'}  {text}")
    if not all(held for _, held in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
