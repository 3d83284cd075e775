"""Granian against uvicorn, serving the same Portico app on one worker each.

Each server serves `GET /health/live` (the app's full middleware stack, no database
round trip) to the same load generator; rounds alternate between the servers so that
noise on this shared machine hits both alike. The figure that decides is the ratio of
medians measured in this one run, not an absolute number.

    make bench            # or: .venv/bin/python bench/asgi_servers.py --rounds 3
"""

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.network import free_port

from bench.load import LoadResult, median_of, run_load

ROOT = Path(__file__).resolve().parents[1]
FACTORY = "entrypoints.http.asgi:build_app"


def server_command(name: str, port: int) -> list[str]:
    shared = ["--factory", "--workers", "1", "--host", "127.0.0.1", "--port", str(port)]
    if name == "granian":
        return [sys.executable, "-m", "granian", "--interface", "asgi", "--no-ws", *shared, FACTORY]
    quiet = ["--no-access-log", "--log-level", "warning"]
    return [sys.executable, "-m", "uvicorn", *quiet, *shared, FACTORY]


def wait_live(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("server exited early")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise TimeoutError("server did not come up")


def measure(name: str, env: dict[str, str], concurrency: int, seconds: float) -> LoadResult:
    port = free_port()
    process = subprocess.Popen(
        server_command(name, port),
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_live(port, process)
        asyncio.run(run_load("127.0.0.1", port, "/health/live", concurrency=concurrency, seconds=1))
        return asyncio.run(
            run_load("127.0.0.1", port, "/health/live", concurrency=concurrency, seconds=seconds)
        )
    finally:
        process.terminate()
        process.wait(timeout=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as data_dir:
        env = {**os.environ, "LOG_LEVEL": "WARNING", "DATA_DIR": data_dir}
        results: dict[str, list[LoadResult]] = {"granian": [], "uvicorn": []}
        for round_number in range(1, args.rounds + 1):
            for name, measured in results.items():
                result = measure(name, env, args.concurrency, args.seconds)
                measured.append(result)
                print(f"round {round_number}  {name:8} {result.summary()}")

    granian, uvicorn = median_of(results["granian"]), median_of(results["uvicorn"])
    print(f"\nmedian req/s   granian {granian:.0f}   uvicorn {uvicorn:.0f}")
    print(f"ratio granian/uvicorn = {granian / uvicorn:.2f} (above 1.00: granian is faster)")


if __name__ == "__main__":
    main()
