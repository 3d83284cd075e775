"""How close sign-in gets to the machine's argon2 ceiling, and whether it stalls the loop.

1. Ceiling: argon2id verifications per second with the production parameters on the
   hashing pool (two threads), with no HTTP at all. It is measured before and after the
   server runs and the ratio uses the mean, so drift on a shared machine cannot decide it.
2. Login throughput: `POST /api/users/login` at concurrency 8 against `portico serve`
   (one worker, real PostgreSQL); each sign-in verifies a password and opens a session.
   A few unmeasured seconds first fill the connection pool. Target: at least 0.8 of the
   ceiling.
3. Loop health: the p99 latency of `GET /health/live` while 16 sign-ins are in flight.
   Target: under 50 ms, which shows argon2 runs off the event loop.

    make bench-login    # or: .venv/bin/python bench/login.py
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.network import free_port

from adapters.security.argon2_hasher import Argon2PasswordHasher
from bench.asgi_servers import wait_live
from bench.load import run_load
from domain.users.values import Password

ROOT = Path(__file__).resolve().parents[1]
PORTICO = str(Path(sys.executable).with_name("portico"))
PASSWORD = "bench-password-123"
TARGET_RATIO = 0.80
TARGET_LIVE_P99_MS = 50.0


async def ceiling(seconds: float) -> float:
    hasher = Argon2PasswordHasher(time_cost=2, memory_kib=19_456, parallelism=1, max_concurrency=2)
    hashed = await hasher.hash(Password.parse(PASSWORD))
    password = Password.parse(PASSWORD)
    done = 0
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < stop_at:
            assert await hasher.verify(hashed, password)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(4)))
    elapsed = time.perf_counter() - started
    hasher.close()
    return done / elapsed


async def liveness_under_logins(port: int, body: bytes, seconds: float) -> tuple[float, float]:
    logins = asyncio.create_task(
        run_load(
            "127.0.0.1",
            port,
            "/api/users/login",
            concurrency=16,
            seconds=seconds,
            method="POST",
            body=body,
        )
    )
    await asyncio.sleep(0.5)
    live = await run_load("127.0.0.1", port, "/health/live", concurrency=1, seconds=seconds - 1)
    result = await logins
    return live.percentile(99), result.per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warm-up", type=float, default=3.0, help="unmeasured seconds first")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    args = parser.parse_args()

    before = asyncio.run(ceiling(args.seconds))
    print(f"argon2id ceiling (2 threads)       {before:7.1f} verifies/s, before")

    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            **os.environ,
            "LOG_LEVEL": "WARNING",
            "DATA_DIR": data_dir,
            "RATE_LIMIT_AUTH_PER_IP": "1000000",
            "APP_WORKERS": "1",
            "OUTBOX_RELAY_IN_API": "false",
        }
        if args.database_url:
            env["DATABASE_URL"] = args.database_url
        subprocess.run([PORTICO, "db", "upgrade"], env=env, cwd=ROOT, check=True)
        port = free_port()
        server = subprocess.Popen(
            [PORTICO, "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_live(port, server)
            name = f"bench{int(time.time())}"
            user = {"username": name, "email": f"{name}@bench.test", "password": PASSWORD}
            httpx.post(f"http://127.0.0.1:{port}/api/users", json={"user": user}).raise_for_status()
            body = json.dumps({"user": {"email": user["email"], "password": PASSWORD}}).encode()
            for seconds in (args.warm_up, args.seconds):
                logins = asyncio.run(
                    run_load(
                        "127.0.0.1",
                        port,
                        "/api/users/login",
                        concurrency=8,
                        seconds=seconds,
                        method="POST",
                        body=body,
                    )
                )
            print(
                f"login endpoint (concurrency 8)     {logins.per_second:7.1f} req/s  "
                f"p50 {logins.percentile(50):.0f} ms  errors {logins.errors}"
            )
            p99, _ = asyncio.run(liveness_under_logins(port, body, args.seconds))
            print(f"GET /health/live p99, 16 logins    {p99:7.1f} ms (target < 50)")
        finally:
            server.terminate()
            server.wait(timeout=15)

    after = asyncio.run(ceiling(args.seconds))
    hashes_per_second = (before + after) / 2
    print(f"argon2id ceiling (2 threads)       {after:7.1f} verifies/s, after")
    print(f"argon2id ceiling, mean             {hashes_per_second:7.1f} verifies/s")
    ratio = logins.per_second / hashes_per_second
    print(f"\nratio login/ceiling = {ratio:.2f} (target >= 0.80)")
    verdicts = [
        (ratio >= TARGET_RATIO, f"login ratio {ratio:.2f} >= {TARGET_RATIO}"),
        (p99 < TARGET_LIVE_P99_MS, f"/health/live p99 {p99:.1f} ms < {TARGET_LIVE_P99_MS:g}"),
        (logins.errors == 0, f"login errors: {logins.errors}"),
    ]
    for held, text in verdicts:
        print(f"{'PASS' if held else 'MISS'}  {text}")
    if not all(held for held, _ in verdicts):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
