"""Time-ordered UUIDs (RFC 9562, version 7), so new primary keys land at the index's end."""

import os
import threading
import time
from uuid import UUID

from application.common.ports.ids import IdGenerator

_VERSION = 0x7
_VARIANT = 0b10
_MAX_COUNTER = (1 << 12) - 1


class Uuid7Generator(IdGenerator):
    """Makes UUIDv7 values that sort in creation order, even within one millisecond.

    A 12-bit counter seeded with random bits orders ids made in the same millisecond
    (RFC 9562, method 1); when it overflows, the timestamp is advanced by one millisecond.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = 0
        self._counter = 0

    def new_id(self) -> UUID:
        """Return a new UUIDv7, greater than every id this generator returned before."""
        with self._lock:
            now_ms = time.time_ns() // 1_000_000
            if now_ms > self._last_ms:
                self._last_ms = now_ms
                self._counter = int.from_bytes(os.urandom(2)) & 0x7FF
            elif self._counter < _MAX_COUNTER:
                self._counter += 1
            else:
                self._last_ms += 1
                self._counter = 0
            timestamp_ms, counter = self._last_ms, self._counter
        random_tail = int.from_bytes(os.urandom(8)) & ((1 << 62) - 1)
        value = (
            (timestamp_ms & ((1 << 48) - 1)) << 80
            | _VERSION << 76
            | counter << 64
            | _VARIANT << 62
            | random_tail
        )
        return UUID(int=value)
