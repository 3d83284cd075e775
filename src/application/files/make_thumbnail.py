"""Use case: make an image's thumbnail, without the metadata the original carries."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

from application.audit.capture import not_audited
from application.common.ports.clock import Clock
from application.common.ports.task_queue import TaskQueue
from application.common.ports.unit_of_work import UnitOfWork
from application.files.ports import (
    FileRepository,
    FileStorage,
    ImageProcessor,
    UnreadableImageError,
    discard_object,
)
from domain.files.policy import IMAGE_TYPES
from domain.files.stored_file import StoredFile, thumbnail_key_for
from domain.files.values import FileId, FileStatus

MAKE_THUMBNAIL = "make_thumbnail"
"""The job's name; its payload is ``{"file_id": ...}``."""

THUMBNAIL_TYPE = "image/webp"
THUMBNAIL_SOURCE_MAX_BYTES = 32 * 1_048_576
"""Larger images (attachments may be) get no thumbnail: the original is read into memory."""


def enqueue_thumbnail(uow: UnitOfWork, queue: TaskQueue, stored: StoredFile) -> None:
    """Ask for a thumbnail of `stored` once the transaction that makes it ready commits."""
    if stored.content_type in IMAGE_TYPES:
        payload = {"file_id": str(stored.id)}
        uow.after_commit(lambda: queue.enqueue(MAKE_THUMBNAIL, payload))


@dataclass(frozen=True, slots=True, kw_only=True)
class MakeThumbnailCommand:
    """Which file's thumbnail to make; the longer side, and the pixels decoded at most."""

    file_id: FileId
    max_edge: int
    max_pixels: int


@not_audited(
    "derived data: a thumbnail follows from an upload, whose entry records it; the job"
    " runs once per image and changes nothing anyone asked for"
)
class MakeThumbnail:
    """Store a small WebP copy of a ready image, stripped of EXIF (GPS positions included).

    Rules:
    - A file that is gone, not ready, not an image, larger than
      `THUMBNAIL_SOURCE_MAX_BYTES` or that already has a thumbnail is skipped, so a
      repeated job does nothing.
    - An image the processor cannot read (broken, or a decompression bomb that passed the
      header check) gets no thumbnail; the job does not fail over it, since trying again
      cannot help.
    - A thumbnail stored for a file deleted meanwhile is removed again.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        files: FileRepository,
        storage: FileStorage,
        images: ImageProcessor,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._files = files
        self._storage = storage
        self._images = images
        self._clock = clock

    async def __call__(self, command: MakeThumbnailCommand) -> bool:
        """Make and record the thumbnail; False when there was nothing to do."""
        async with self._uow:
            stored = await self._files.get(command.file_id)
        if not _wants_thumbnail(stored):
            return False
        assert stored is not None  # noqa: S101 - _wants_thumbnail said so
        original = b"".join([chunk async for chunk in self._storage.read(stored.storage_key)])
        try:
            thumbnail = await self._images.thumbnail(
                original, max_edge=command.max_edge, max_pixels=command.max_pixels
            )
        except UnreadableImageError:
            return False
        key = thumbnail_key_for(stored.id)
        await self._storage.put(key, _once(thumbnail), content_type=THUMBNAIL_TYPE)
        async with self._uow:
            current = await self._files.get(command.file_id, for_update=True)
            if not _wants_thumbnail(current):
                await self._uow.rollback()
                if current is None or current.thumbnail_key != key:
                    await discard_object(self._storage, key)
                return False
            assert current is not None  # noqa: S101 - _wants_thumbnail said so
            current.set_thumbnail(key, now=self._clock.now())
            await self._files.save(current)
            await self._uow.commit()
        return True


def _wants_thumbnail(stored: StoredFile | None) -> bool:
    return (
        stored is not None
        and stored.status is FileStatus.READY
        and stored.content_type in IMAGE_TYPES
        and stored.thumbnail_key is None
        and stored.size <= THUMBNAIL_SOURCE_MAX_BYTES
    )


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data
