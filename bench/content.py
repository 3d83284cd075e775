"""Content read paths on seeded data, against a bare hello endpoint on the same server.

One `granian` worker serves Portico, with the hello handler of `bench/content_app.py`
beside it, on PostgreSQL seeded with 50 users, 500 articles and 5,000 comments. `wrk`
drives each endpoint in turn at 32 connections; the table shows req/s, p50 and p99, and
each endpoint's ratio to hello measured in this one run.

Targets, for the authenticated `GET /api/articles?limit=20` with the content cache off:
ratio to hello >= 0.06, p99 < 50 ms, and no error or non-2xx response in any run.

    make bench                     # or: .venv/bin/python bench/content.py
    .venv/bin/python bench/content.py --cache    # anonymous reads served from the cache

Needs `wrk` (Debian package `wrk`). DATABASE_URL picks the PostgreSQL server; unset, the
embedded one is used in a temporary directory.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
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
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
_ALTERNATE = """
local n = 0
request = function()
  n = n + 1
  if n % 2 == 1 then return wrk.format("POST") end
  return wrk.format("DELETE")
end
"""


@dataclass(frozen=True, slots=True)
class Measurement:
    """What wrk reported for one endpoint."""

    per_second: float
    p50_ms: float
    p99_ms: float
    failures: int


def _milliseconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
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
            lua.write(script)
            lua.flush()
            command += ["-s", lua.name]
        report = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", report, re.MULTILINE))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", report
    )
    failures = int(non_2xx[1]) if non_2xx else 0
    failures += sum(int(n) for n in socket.groups()) if socket else 0
    return Measurement(
        per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", report)[1]),  # type: ignore[index]
        p50_ms=_milliseconds(latency["50"]),
        p99_ms=_milliseconds(latency["99"]),
        failures=failures,
    )


def vacuum(env: dict[str, str]) -> None:
    """VACUUM ANALYZE after the bulk load, as autovacuum would in time: fresh statistics."""
    with resolved_database(load_settings(env, env_file=None)) as settings:
        assert settings.database.url is not None
        engine = sa.create_engine(
            to_psycopg_url(settings.database.url), isolation_level="AUTOCOMMIT", poolclass=NullPool
        )
        with engine.connect() as connection:
            connection.execute(sa.text("VACUUM ANALYZE"))
        engine.dispose()


def prepare(base: str) -> tuple[str, str, str]:
    """Register the bench user, follow ten authors; return its token, a slug and a username."""
    name = f"bench{uuid.uuid4().hex[:8]}"
    user = {"username": name, "email": f"{name}@bench.test", "password": "password123"}
    token = httpx.post(f"{base}/api/users", json={"user": user}).raise_for_status().json()
    token = token["user"]["token"]
    articles = httpx.get(f"{base}/api/articles?limit=100").raise_for_status().json()["articles"]
    if not articles:
        raise SystemExit("bench: the seed created no articles")
    authors = list(dict.fromkeys(a["author"]["username"] for a in articles))
    for author in authors[:10]:
        httpx.post(
            f"{base}/api/profiles/{author}/follow", headers={"Authorization": f"Token {token}"}
        ).raise_for_status()
    return token, articles[0]["slug"], authors[0]


def main() -> None:
    """Seed, serve, measure every endpoint and print the table and the verdict."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--warm-up", type=float, default=2.0, help="unmeasured seconds first")
    parser.add_argument("--cache", action="store_true", help="serve anonymous reads cached")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench: wrk is missing; install it with `apt-get install wrk`")

    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            **os.environ,
            "LOG_LEVEL": "WARNING",
            "DATA_DIR": data_dir,
            "RATE_LIMIT_AUTH_PER_IP": "1000000",
            "RATE_LIMIT_REGISTRATIONS_PER_IP": "1000000",
            "APP_WORKERS": "1",
            "CACHE_CONTENT": "true" if args.cache else "false",
            "DATABASE_POOL_SIZE": str(args.connections),
            "OUTBOX_RELAY_IN_API": "false",
            "PYTHONPATH": str(ROOT),
        }
        if args.database_url:
            env["DATABASE_URL"] = args.database_url
        started = time.perf_counter()
        subprocess.run([PORTICO, "db", "upgrade"], env=env, cwd=ROOT, check=True)
        subprocess.run([PORTICO, "seed", *SEED], env=env, cwd=ROOT, check=True)
        vacuum(env)
        print(f"seeded in {time.perf_counter() - started:.1f} s")
        port = free_port()
        server = subprocess.Popen(
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
            wait_live(port, server)
            base = f"http://127.0.0.1:{port}"
            token, slug, author = prepare(base)
            endpoints: list[tuple[str, str, str | None, str | None]] = [
                ("hello", HELLO_PATH, None, None),
                ("GET /api/articles?limit=20 (anonymous)", "/api/articles?limit=20", None, None),
                ("GET /api/articles?limit=20 (signed in)", "/api/articles?limit=20", token, None),
                ("GET /api/articles/feed", "/api/articles/feed", token, None),
                ("GET /api/articles/{slug}", f"/api/articles/{slug}", None, None),
                ("GET /api/articles/{slug}/comments", f"/api/articles/{slug}/comments", None, None),
                ("GET /api/tags", "/api/tags", None, None),
                ("GET /api/profiles/{username}", f"/api/profiles/{author}", token, None),
                ("POST+DELETE .../favorite", f"/api/articles/{slug}/favorite", token, _ALTERNATE),
            ]
            results = {}
            for label, path, auth, script in endpoints:
                for seconds in (args.warm_up, args.seconds):
                    results[label] = run_wrk(
                        base + path,
                        connections=args.connections,
                        seconds=seconds,
                        token=auth,
                        script=script,
                    )
        finally:
            server.terminate()
            server.wait(timeout=15)

    hello = results["hello"].per_second
    cache = "on" if args.cache else "off"
    print(f"\n{args.connections} connections, {args.seconds:.0f} s each, 1 worker, cache {cache}")
    print(f"{'endpoint':42} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>6} {'fail':>5}")
    for label, result in results.items():
        print(
            f"{label:42} {result.per_second:9.0f} {result.p50_ms:8.2f} {result.p99_ms:8.2f} "
            f"{result.per_second / hello:6.3f} {result.failures:5d}"
        )
    target = results["GET /api/articles?limit=20 (signed in)"]
    ratio = target.per_second / hello
    failures = sum(result.failures for result in results.values())
    verdicts = [
        (f"signed-in list ratio {ratio:.3f} >= {TARGET_RATIO}", ratio >= TARGET_RATIO),
        (f"signed-in list p99 {target.p99_ms:.1f} ms < {TARGET_P99_MS:.0f}", target.p99_ms < 50),
        (f"errors and non-2xx: {failures}", failures == 0),
    ]
    print()
    for text, held in verdicts:
        print(f"{'PASS' if held else 'MISS'}  {text}")
    if not all(held for _, held in verdicts):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
