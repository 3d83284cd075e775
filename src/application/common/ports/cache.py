"""The cache port: a shared store of bytes with expiry, for reads that are costly to redo."""

from typing import Protocol


class CacheUnavailableError(Exception):
    """The cache store cannot be reached or answered wrongly; callers fall back to the source."""


class Cache(Protocol):
    """Bytes under string keys, each with a time to live.

    Contract:
    - `get` returns what the last `set` stored, until its TTL passes or it is deleted; None
      for a key never set, expired or deleted.
    - `take` is `get` and `delete` in one atomic step: of callers racing for one key, on any
      number of processes, exactly one gets the value (a single-use token).
    - `increment` adds one to a counter atomically, creating it at 1, and returns the new
      value; counters never expire, and `get` reads them as ASCII digits. Generations built on
      it invalidate many keys at once: the generation is part of every key derived from it.
    - Every method raises `CacheUnavailableError` when the store fails, and nothing else;
      a cache is an optimization, so callers must be able to carry on without it.
    """

    async def get(self, key: str) -> bytes | None:
        """The value stored under `key`, if it is there and fresh."""
        ...

    async def set(self, key: str, value: bytes, *, ttl_seconds: int) -> None:
        """Store `value` under `key` for `ttl_seconds` (at least 1)."""
        ...

    async def delete(self, key: str) -> None:
        """Forget `key`; deleting a missing key is harmless."""
        ...

    async def take(self, key: str) -> bytes | None:
        """The value under `key`, deleted in the same step; None if it was not there."""
        ...

    async def increment(self, key: str) -> int:
        """Add one to the counter under `key` and return the new value."""
        ...
