"""A cache in process memory: a bounded LRU map, for one process (tests, embedded mode)."""

import re
import time
from collections import OrderedDict
from collections.abc import Callable

from application.common.ports.cache import Cache, CacheUnavailableError

_INTEGER = re.compile(rb"0|-?[1-9][0-9]*")
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


class InProcessCache(Cache):
    """The `Cache` port in a bounded LRU map, behaving as Redis does; private to one process.

    Expiry follows `clock`; an expired value reads as missing and is dropped when touched.
    When `max_entries` keys are held, a new key evicts the least recently used value; counters
    are evicted only when no value is left, because a counter that restarted at 1 would bring
    back keys derived from an old generation. As with Redis INCR, `increment` on a stored
    value counts up from its digits and keeps its expiry, and fails on anything else.
    """

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, max_entries: int = 10_000
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._clock = clock
        self._max_entries = max_entries
        self._values: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self._counters: OrderedDict[str, int] = OrderedDict()

    async def get(self, key: str) -> bytes | None:
        """The value under `key` if it is there and fresh; a counter as ASCII digits."""
        if key in self._counters:
            self._counters.move_to_end(key)
            return str(self._counters[key]).encode("ascii")
        entry = self._fresh_value(key)
        return None if entry is None else entry[0]

    async def set(self, key: str, value: bytes, *, ttl_seconds: int) -> None:
        """Store `value` under `key` for `ttl_seconds` (at least 1), replacing any counter."""
        if ttl_seconds < 1:
            raise ValueError("ttl_seconds must be at least 1")
        self._forget(key)
        self._make_room()
        self._values[key] = (value, self._clock() + ttl_seconds)

    async def delete(self, key: str) -> None:
        """Forget `key`, value or counter; deleting a missing key is harmless."""
        self._forget(key)

    async def take(self, key: str) -> bytes | None:
        """The value under `key`, forgotten at once; one event loop makes it atomic."""
        value = await self.get(key)
        self._forget(key)
        return value

    async def increment(self, key: str) -> int:
        """Add one to the counter under `key`, creating it at 1; a non-integer value fails."""
        if key in self._counters:
            count = _successor(self._counters[key])
            self._counters[key] = count
            self._counters.move_to_end(key)
            return count
        entry = self._fresh_value(key)
        if entry is not None:
            value, expires_at = entry
            count = _successor(_as_integer(value))
            self._values[key] = (str(count).encode("ascii"), expires_at)
            return count
        self._make_room()
        self._counters[key] = 1
        return 1

    def _fresh_value(self, key: str) -> tuple[bytes, float] | None:
        entry = self._values.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            del self._values[key]
            return None
        self._values.move_to_end(key)
        return entry

    def _forget(self, key: str) -> None:
        self._values.pop(key, None)
        self._counters.pop(key, None)

    def _make_room(self) -> None:
        while len(self._values) + len(self._counters) >= self._max_entries:
            if self._values:
                self._values.popitem(last=False)
            else:
                self._counters.popitem(last=False)


def _as_integer(value: bytes) -> int:
    """The 64-bit integer that `value` spells as Redis would read it, or the store's error."""
    if _INTEGER.fullmatch(value) is None or not _INT64_MIN <= int(value) <= _INT64_MAX:
        raise CacheUnavailableError("value is not an integer or out of range")
    return int(value)


def _successor(count: int) -> int:
    """`count + 1`, or the store's error where Redis would overflow."""
    if count >= _INT64_MAX:
        raise CacheUnavailableError("increment would overflow")
    return count + 1
