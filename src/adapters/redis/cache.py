"""A cache in Redis: shared by every process, with expiry kept by Redis itself."""

from collections.abc import Iterator
from contextlib import contextmanager

from redis.asyncio import Redis
from redis.exceptions import RedisError

from application.common.ports.cache import Cache, CacheUnavailableError


class RedisCache(Cache):
    """The `Cache` port on Redis GET, SET EX, DEL and INCR; keys are prefixed.

    Meant for a client that returns bytes (the default); one that decodes responses gets its
    text encoded back as UTF-8, which only round-trips values that are valid UTF-8.
    """

    def __init__(self, client: "Redis", *, prefix: str = "portico:cache:") -> None:
        self._client = client
        self._prefix = prefix

    async def get(self, key: str) -> bytes | None:
        """The value under `key` if it is there and fresh; a counter as ASCII digits."""
        with _reported_as_unavailable():
            value = await self._client.get(self._prefix + key)
        return value.encode() if isinstance(value, str) else value

    async def set(self, key: str, value: bytes, *, ttl_seconds: int) -> None:
        """Store `value` under `key` for `ttl_seconds` (at least 1), replacing any counter."""
        if ttl_seconds < 1:
            raise ValueError("ttl_seconds must be at least 1")
        with _reported_as_unavailable():
            await self._client.set(self._prefix + key, value, ex=ttl_seconds)

    async def delete(self, key: str) -> None:
        """Forget `key`, value or counter; deleting a missing key is harmless."""
        with _reported_as_unavailable():
            await self._client.delete(self._prefix + key)

    async def take(self, key: str) -> bytes | None:
        """GETDEL: read and delete in one command, so one caller alone gets the value."""
        with _reported_as_unavailable():
            value = await self._client.getdel(self._prefix + key)
        return value.encode() if isinstance(value, str) else value

    async def increment(self, key: str) -> int:
        """Add one to the counter under `key`, creating it at 1; a non-integer value fails."""
        with _reported_as_unavailable():
            count: int = await self._client.incr(self._prefix + key)
        return count


@contextmanager
def _reported_as_unavailable() -> Iterator[None]:
    """Turn a Redis or socket failure into `CacheUnavailableError` named after its type.

    `OSError` covers `TimeoutError`, which `asyncio.TimeoutError` is since Python 3.11.
    """
    try:
        yield
    except (RedisError, OSError) as exc:
        raise CacheUnavailableError(type(exc).__name__) from exc
