"""Files kept in a dict: the `FileStorage` port for tests, with no directory or bucket."""

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from adapters.system.api_transfers import TransfersThroughTheApi
from application.common.ports.clock import Clock
from application.files.ports import (
    ByteRange,
    FileStorage,
    ObjectMissingError,
    StoredObject,
)

READ_CHUNK_BYTES: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class _Object:
    data: bytes
    modified_at: datetime


class InMemoryFileStorage(TransfersThroughTheApi, FileStorage):
    """The `FileStorage` port in memory; the API carries the bytes itself (no presigning).

    Modification times come from `clock`, or the wall clock in UTC when there is none.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock
        self._objects: dict[str, _Object] = {}

    @property
    def backend(self) -> str:
        """Always ``memory``."""
        return "memory"

    async def put(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        *,
        content_type: str,  # noqa: ARG002 - a type is served from the file's record
    ) -> int:
        """Take every chunk first, so that chunks that raise leave the old object, or none."""
        received = [chunk async for chunk in chunks]
        data = b"".join(received)
        self._objects[key] = _Object(data, self._now())
        return len(data)

    async def read(self, key: str, *, byte_range: ByteRange | None = None) -> AsyncIterator[bytes]:
        """The object as it was when reading began; an end past it is clamped to its size."""
        stored = self._objects.get(key)
        if stored is None:
            raise ObjectMissingError(key)
        data = stored.data
        start, stop = 0, len(data)
        if byte_range is not None:
            start, stop = byte_range.start, min(byte_range.end + 1, len(data))
        for offset in range(start, stop, READ_CHUNK_BYTES):
            yield data[offset : min(offset + READ_CHUNK_BYTES, stop)]

    async def stat(self, key: str) -> StoredObject | None:
        """Size and modification time."""
        stored = self._objects.get(key)
        if stored is None:
            return None
        return StoredObject(key=key, size=len(stored.data), modified_at=stored.modified_at)

    async def delete(self, key: str) -> bool:
        """Forget the object."""
        return self._objects.pop(key, None) is not None

    async def objects(self, prefix: str = "") -> AsyncIterator[StoredObject]:
        """The objects stored when listing began."""
        listed = [
            StoredObject(key=key, size=len(stored.data), modified_at=stored.modified_at)
            for key, stored in self._objects.items()
            if key.startswith(prefix)
        ]
        for stored_object in listed:
            yield stored_object

    async def remove_abandoned_uploads(self, older_than: timedelta) -> int:  # noqa: ARG002 - nothing is ever half stored here
        """Nothing: a put here stores all or nothing, at once."""
        return 0

    def _now(self) -> datetime:
        return datetime.now(UTC) if self._clock is None else self._clock.now()
