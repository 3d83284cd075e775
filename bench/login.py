"""How close sign-in gets to the machine's argon2 ceiling, and whether it stalls the loop.

1. Ceiling: argon2id verifications per second with the production parameters on the
   hashing pool (two threads), with no HTTP at all.
2. Login throughput: `POST /api/users/login` at concurrency 8 against `portico serve`
   (one worker, real PostgreSQL); each sign-in verifies a password and opens a session.
   A few unmeasured seconds first fill the connection pool. Target: at least 0.8 of the
   ceiling.
   The two are measured in alternating slices (ceiling, logins, ceiling, logins, ...)
   while the server idles between its slices, and the ratio is taken over the totals:
   on a shared machine the speed drifts by a third within a minute, and measuring each
   side in one block let that drift, not the code, decide the ratio.
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
from bench.load import LoadResult, run_load
from domain.users.values import Password
from entrypoints.config.settings import AuthSettings

ROOT = Path(__file__).resolve().parents[1]
PORTICO = str(Path(sys.executable).with_name("portico"))
PASSWORD = "bench-password-123"
TARGET_RATIO = 0.80
TARGET_LIVE_P99_MS = 50.0


class Ceiling:
    """Times argon2id verifications on the production pool, a slice at a time."""

    def __init__(self) -> None:
        auth = AuthSettings()
        self._hasher = Argon2PasswordHasher(
            time_cost=auth.password_hash_time_cost,
            memory_kib=auth.password_hash_memory_kib,
            parallelism=auth.password_hash_parallelism,
            max_concurrency=2,
            niceness=auth.password_hash_niceness,
        )
        self._password = Password.parse(PASSWORD)
        self._hashed = ""
        self.verifies = 0
        self.seconds = 0.0

    async def measure(self, seconds: float) -> float:
        """Verify for `seconds` with four callers on two threads; return verifies/s."""
        if not self._hashed:
            self._hashed = await self._hasher.hash(self._password)
        done = 0
        stop_at = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < stop_at:
                assert await self._hasher.verify(self._hashed, self._password)
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(4)))
        elapsed = time.perf_counter() - started
        self.verifies += done
        self.seconds += elapsed
        return done / elapsed

    @property
    def per_second(self) -> float:
        return self.verifies / self.seconds

    def close(self) -> None:
        self._hasher.close()


async def logins(port: int, body: bytes, *, concurrency: int, seconds: float) -> LoadResult:
    return await run_load(
        "127.0.0.1",
        port,
        "/api/users/login",
        concurrency=concurrency,
        seconds=seconds,
        method="POST",
        body=body,
    )


async def liveness_under_logins(port: int, body: bytes, seconds: float) -> float:
    in_flight = asyncio.create_task(logins(port, body, concurrency=16, seconds=seconds))
    await asyncio.sleep(0.5)
    live = await run_load("127.0.0.1", port, "/health/live", concurrency=1, seconds=seconds - 1)
    await in_flight
    return live.percentile(99)


async def measure(port: int, body: bytes, args: argparse.Namespace) -> tuple[float, float, int]:
    """Alternate ceiling and login slices; return the ratio, the live p99 and login errors."""
    ceiling = Ceiling()
    await logins(port, body, concurrency=8, seconds=args.warm_up)
    await ceiling.measure(1.0)
    ceiling.verifies, ceiling.seconds = 0, 0.0
    requests, seconds, errors = 0, 0.0, 0
    print("slice  ceiling verifies/s  login req/s  ratio")
    try:
        for number in range(1, args.slices + 1):
            hashes = await ceiling.measure(args.slice_seconds)
            result = await logins(port, body, concurrency=8, seconds=args.slice_seconds)
            requests += result.requests
            seconds += result.seconds
            errors += result.errors
            print(
                f"{number:5d}  {hashes:18.1f}  {result.per_second:11.1f}  "
                f"{result.per_second / hashes:5.2f}"
            )
    finally:
        ceiling.close()
    login_rate = requests / seconds
    ratio = login_rate / ceiling.per_second
    print(
        f"total  {ceiling.per_second:18.1f}  {login_rate:11.1f}  {ratio:5.2f}"
        f"   ({args.slices} slices of {args.slice_seconds:g} s each side, {errors} login errors)"
    )
    p99 = await liveness_under_logins(port, body, args.seconds)
    print(f"GET /health/live p99 while 16 sign-ins run: {p99:.1f} ms (target < 50)")
    return ratio, p99, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=5, help="ceiling/login pairs")
    parser.add_argument("--slice-seconds", type=float, default=3.0)
    parser.add_argument("--seconds", type=float, default=8.0, help="the liveness run")
    parser.add_argument("--warm-up", type=float, default=3.0, help="unmeasured seconds first")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            **os.environ,
            "LOG_LEVEL": "WARNING",
            "DATA_DIR": data_dir,
            "RATE_LIMIT_AUTH_PER_IP": "1000000",
            "RATE_LIMIT_REGISTRATIONS_PER_IP": "1000000",
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
            ratio, p99, errors = asyncio.run(measure(port, body, args))
        finally:
            server.terminate()
            server.wait(timeout=15)

    print(f"\nratio login/ceiling = {ratio:.2f} (target >= {TARGET_RATIO})")
    verdicts = [
        (ratio >= TARGET_RATIO, f"login ratio {ratio:.2f} >= {TARGET_RATIO}"),
        (p99 < TARGET_LIVE_P99_MS, f"/health/live p99 {p99:.1f} ms < {TARGET_LIVE_P99_MS:g}"),
        (errors == 0, f"login errors: {errors}"),
    ]
    for held, text in verdicts:
        print(f"{'PASS' if held else 'MISS'}  {text}")
    if not all(held for held, _ in verdicts):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
