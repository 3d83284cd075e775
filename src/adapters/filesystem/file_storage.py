"""Files in a local directory, written aside and renamed into place, so none is ever half there."""

import asyncio
import contextlib
import os
import re
import stat
import tempfile
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Final, TypeVar

from adapters.system.api_transfers import TransfersThroughTheApi
from adapters.system.outage_log import OutageLog
from application.common.errors import DependencyUnavailableError
from application.files.ports import (
    FILE_STORAGE,
    ByteRange,
    FileStorage,
    ObjectMissingError,
    StoredObject,
)

DEFAULT_CHUNK_BYTES: Final = 256 * 1024
WRITE_BATCH_BYTES: Final = 1024 * 1024
"""How many received bytes `put` gathers before it hands them to a thread to write.

A thread hop per small chunk would cost more than writing the chunk into the page cache.
"""
PART_SUFFIX: Final = ".part"
PRIVATE_DIRECTORY_MODE: Final = 0o700
_KEY_SEGMENT: Final = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
"""A key's segment; never one with a leading dot, the names the parts of puts are given."""

_Result = TypeVar("_Result")


class LocalFileStorage(TransfersThroughTheApi, FileStorage):
    """The `FileStorage` port over a directory; the API carries the bytes (no presigning).

    A key names a file under `root`: segments of ASCII letters, digits, ``.``, ``_`` and
    ``-``, separated by ``/``, none empty nor starting with a dot. Keys are made from ids,
    never from input, so another key is a bug: it raises ValueError before the disk is
    touched, as does a key whose path leads out of `root` through a symbolic link.

    `put` writes a hidden ``.<name>.<random>.part`` file beside the object's path, fsyncs
    it, renames it over the path and fsyncs the directory: a reader, and a machine that
    crashes, see the old object or the new one and never a part of one. When the chunks
    raise, or the put is cancelled, the part is removed before the error propagates. Only a
    process that dies mid-put leaves its part, which `remove_abandoned_uploads` clears.

    Blocking calls run in worker threads, so the disk never holds the event loop up for
    long. Directories are made 0o700 and files 0o600: only the service's user reads them.
    """

    def __init__(self, root: Path, *, chunk_size: int = DEFAULT_CHUNK_BYTES) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        root.mkdir(mode=PRIVATE_DIRECTORY_MODE, parents=True, exist_ok=True)
        self._root = root.resolve()
        self._chunk_size = chunk_size
        self._outage = OutageLog(
            "file storage directory", what_waits="file uploads and downloads answer 503"
        )

    @property
    def backend(self) -> str:
        """Always ``local``."""
        return "local"

    async def put(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        *,
        content_type: str,  # noqa: ARG002 - a type is served from the file's record
    ) -> int:
        """Store the chunks; the object under `key` changes only once all arrived and are synced.

        A put cancelled while it renames may still have replaced the object: the rename is
        not undone, since the old object is gone by then.
        """
        destination = self._path_for(key)
        with self._reported():
            descriptor, part = await _in_thread_to_the_end(
                partial(_create_part, self._root, destination), abandoned=_discard_part
            )
        try:
            with self._reported():
                size = await self._write(descriptor, chunks)
                await _in_thread_to_the_end(partial(_commit_part, descriptor, part, destination))
        except BaseException:
            _discard_part((descriptor, part))
            raise
        os.close(descriptor)
        return size

    def read(self, key: str, *, byte_range: ByteRange | None = None) -> AsyncIterator[bytes]:
        """The object's bytes in chunks of `chunk_size`; an end past the object is clamped.

        A refused key raises ValueError here, when called; a missing object raises
        `ObjectMissingError` at the first chunk. A read goes on from the file it opened,
        whatever a later `put` or `delete` does to the key.
        """
        return self._read(key, self._path_for(key), byte_range)

    async def stat(self, key: str) -> StoredObject | None:
        """Size and modification time, if a file is under `key`."""
        path = self._path_for(key)
        with self._reported():
            return await asyncio.to_thread(_stat_object, key, path)

    async def delete(self, key: str) -> bool:
        """Remove the file; False if there was none. Emptied directories are left."""
        path = self._path_for(key)
        with self._reported():
            return await asyncio.to_thread(_remove_object, path)

    def objects(self, prefix: str = "") -> AsyncIterator[StoredObject]:
        """Every object under `prefix`, one directory read per thread call; parts are not listed.

        A file whose name is not a key segment was not stored here, and is not listed.
        """
        directory_key = prefix.rpartition("/")[0]
        start = self._path_for(directory_key) if directory_key else self._root
        return self._objects(prefix, start, directory_key)

    async def remove_abandoned_uploads(self, older_than: timedelta) -> int:
        """Remove the parts that puts of dead processes left; return how many were removed.

        A part is taken as abandoned once it was last written
        more than `older_than` ago, so `older_than` must be far longer than a live upload
        may stall (an hour, say): a live put whose part is removed fails, and stores nothing.
        """
        cutoff = time.time() - older_than.total_seconds()
        return await asyncio.to_thread(_remove_parts_written_before, self._root, cutoff)

    @contextlib.contextmanager
    def _reported(self) -> Iterator[None]:
        """Turn the disk failing (full, unwritable, an I/O error) into a 503, logged once.

        A missing object is not a failure: the calls that meet one give it its meaning
        before this sees it.
        """
        try:
            yield
        except OSError as exc:
            self._outage.down(exc)
            raise DependencyUnavailableError(
                "is unavailable; try again shortly", field=FILE_STORAGE
            ) from exc
        self._outage.up()

    def _path_for(self, key: str) -> Path:
        segments = key.split("/")
        if not all(_KEY_SEGMENT.fullmatch(segment) for segment in segments):
            raise ValueError(f"not a storage key: {key!r}")
        path = self._root.joinpath(*segments)
        if not path.resolve().is_relative_to(self._root):
            raise ValueError(f"storage key {key!r} leads out of the storage directory")
        return path

    async def _write(self, descriptor: int, chunks: AsyncIterable[bytes]) -> int:
        """Copy the chunks into batches, each written in a thread while the next one fills.

        Two buffers take turns, so receiving the upload and writing it overlap; a buffer
        is filled again only once its write ended. When the chunks raise, the write in
        flight still ends before the error leaves, since the caller then closes the file.
        """
        size = 0
        buffers = [bytearray(WRITE_BATCH_BYTES), bytearray(WRITE_BATCH_BYTES)]
        batch, filled = buffers[0], 0
        writing: asyncio.Future[None] | None = None
        try:
            async for chunk in chunks:
                size += len(chunk)
                rest = memoryview(chunk)
                while rest:
                    taken = min(len(rest), WRITE_BATCH_BYTES - filled)
                    batch[filled : filled + taken] = rest[:taken]
                    filled += taken
                    rest = rest[taken:]
                    if filled == WRITE_BATCH_BYTES:
                        if writing is not None:
                            await _in_thread_to_the_end_of(writing)
                        writing = asyncio.ensure_future(
                            asyncio.to_thread(_write_fully, descriptor, batch)
                        )
                        batch = buffers[1] if batch is buffers[0] else buffers[0]
                        filled = 0
            if writing is not None:
                await _in_thread_to_the_end_of(writing)
                writing = None
            if filled:
                await _in_thread_to_the_end(partial(_write_fully, descriptor, batch[:filled]))
        finally:
            if writing is not None and not writing.done():
                with contextlib.suppress(BaseException):
                    await _in_thread_to_the_end_of(writing)
        return size

    async def _read(
        self, key: str, path: Path, byte_range: ByteRange | None
    ) -> AsyncIterator[bytes]:
        with self._reported():
            descriptor, size = await _in_thread_to_the_end(
                partial(_open_object, key, path), abandoned=lambda opened: os.close(opened[0])
            )
        try:
            offset, stop = 0, size
            if byte_range is not None:
                offset, stop = byte_range.start, min(byte_range.end + 1, size)
            while offset < stop:
                with self._reported():
                    chunk = await _in_thread_to_the_end(
                        partial(os.pread, descriptor, min(self._chunk_size, stop - offset), offset)
                    )
                if not chunk:
                    raise OSError(f"{key} became shorter while it was read")
                offset += len(chunk)
                yield chunk
        finally:
            os.close(descriptor)

    async def _objects(
        self, prefix: str, start: Path, start_key: str
    ) -> AsyncIterator[StoredObject]:
        directories = [(start, start_key)]
        while directories:
            directory, directory_key = directories.pop()
            entries = await asyncio.to_thread(_list_directory, directory)
            for name, mode, size, modified_at in entries:
                key = f"{directory_key}/{name}" if directory_key else name
                if not key.startswith(prefix):
                    continue
                if stat.S_ISDIR(mode):
                    directories.append((directory / name, key))
                elif stat.S_ISREG(mode):
                    yield StoredObject(key=key, size=size, modified_at=modified_at)


async def _in_thread_to_the_end_of(running: asyncio.Future[None]) -> None:
    """Wait for a write already running in a thread; when cancelled, still wait, then re-raise."""
    try:
        await asyncio.shield(running)
    except asyncio.CancelledError:
        while not running.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([running])
        raise


async def _in_thread_to_the_end(
    call: Callable[[], _Result], *, abandoned: Callable[[_Result], object] | None = None
) -> _Result:
    """Run `call` in a worker thread; when cancelled, still wait for it to end, then re-raise.

    The calls work on open files: returning at once would let the cleanup close a
    descriptor, or remove a file, under a call still running. What a call that finished
    after all returned is handed to `abandoned`, so that it is not leaked.
    """
    running = asyncio.ensure_future(asyncio.to_thread(call))
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        while not running.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([running])
        if running.exception() is None and abandoned is not None:
            abandoned(running.result())
        raise


def _create_part(root: Path, destination: Path) -> tuple[int, str]:
    """Make the part a put writes, in the destination's directory so that a rename is atomic."""
    _make_private_directories(root, destination.parent)
    return tempfile.mkstemp(
        dir=destination.parent, prefix=f".{destination.name}.", suffix=PART_SUFFIX
    )


def _make_private_directories(root: Path, directory: Path) -> None:
    """Create the directories from `root` down to `directory`, each one durable in its parent."""
    current = root
    for segment in directory.relative_to(root).parts:
        current /= segment
        try:
            current.mkdir(mode=PRIVATE_DIRECTORY_MODE)
        except FileExistsError:
            continue
        _sync_directory(current.parent)


def _write_fully(descriptor: int, data: bytearray) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _commit_part(descriptor: int, part: str, destination: Path) -> None:
    os.fsync(descriptor)
    Path(part).replace(destination)
    _sync_directory(destination.parent)


def _discard_part(created: tuple[int, str]) -> None:
    """Close and remove a part; on the event loop, so that a second cancellation cannot stop it."""
    descriptor, part = created
    os.close(descriptor)
    with contextlib.suppress(FileNotFoundError):
        Path(part).unlink()


def _sync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _open_object(key: str, path: Path) -> tuple[int, int]:
    """A descriptor on the object's file and its size; `ObjectMissingError` if no file is there."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        raise ObjectMissingError(key) from None
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode):
        os.close(descriptor)
        raise ObjectMissingError(key)
    return descriptor, status.st_size


def _stat_object(key: str, path: Path) -> StoredObject | None:
    try:
        status = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not stat.S_ISREG(status.st_mode):
        return None
    return StoredObject(key=key, size=status.st_size, modified_at=_modified_at(status))


def _remove_object(path: Path) -> bool:
    try:
        if not stat.S_ISREG(path.lstat().st_mode):
            return False
        path.unlink()
    except (FileNotFoundError, NotADirectoryError):
        return False
    return True


def _list_directory(directory: Path) -> list[tuple[str, int, int, datetime]]:
    """Name, mode, size and modification time of each entry named like a key segment."""
    listed = []
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if not _KEY_SEGMENT.fullmatch(entry.name):
                    continue
                try:
                    status = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                listed.append((entry.name, status.st_mode, status.st_size, _modified_at(status)))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return listed


def _remove_parts_written_before(root: Path, cutoff: float) -> int:
    removed = 0
    for directory, _, names in os.walk(root):
        for name in names:
            if not (name.startswith(".") and name.endswith(PART_SUFFIX)):
                continue
            part = Path(directory, name)
            with contextlib.suppress(FileNotFoundError):
                if part.lstat().st_mtime < cutoff:
                    part.unlink()
                    removed += 1
    return removed


def _modified_at(status: os.stat_result) -> datetime:
    return datetime.fromtimestamp(status.st_mtime, UTC)
