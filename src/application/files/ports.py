"""Files ports: where bytes are kept, the file records, and the image work done on them."""

from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from domain.articles.values import ArticleId
from domain.files.stored_file import StoredFile
from domain.files.values import FileId, FilePurpose, FileStatus, Sha256Digest
from domain.users.values import UserId


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes `start` to `end` of an object, both included, as HTTP ranges count them."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.start < 0 or self.end < self.start:
            raise ValueError(f"not a byte range: {self.start}-{self.end}")

    @property
    def length(self) -> int:
        """How many bytes the range holds."""
        return self.end - self.start + 1


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredObject:
    """What storage knows of an object under a key."""

    key: str
    size: int
    modified_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PresignedRequest:
    """A request a client may make straight to storage, without credentials, until it expires.

    The client must send exactly `headers` with it; storage refuses anything else, so the
    length, the type and the SHA-256 announced are those of the bytes that arrive.
    """

    url: str
    method: str
    headers: Mapping[str, str]
    expires_at: datetime


FILE_STORAGE = "file_storage"
"""What an outage of the storage is reported as: the error's field, the probe's name."""


class ObjectMissingError(Exception):
    """No object is stored under the key read."""


class FileStorage(Protocol):
    """Bytes under keys, in a directory, a bucket or memory.

    Contract:
    - `put` stores the chunks under `key` and replaces an object there only once the last
      chunk arrived. When the chunks raise (a refused upload, a client gone), nothing is
      left behind: no object under `key`, no temporary file, no unfinished multipart
      upload; the error propagates.
    - `read` yields the object's bytes, or those of `byte_range` within it; it raises
      `ObjectMissingError` before yielding anything when there is no object.
    - `delete` is idempotent; `objects` lists every object under `prefix`, in no order.
    - `presign_put` and `presign_get` return None where the backend has no presigned
      requests (a local directory, memory): the API then carries the bytes itself.
    - A presigned PUT carries `size`, `content_type` and `sha256` in its signed headers:
      storage refuses a body of another length, another type, or another SHA-256, so a
      PUT to a URL still valid after the upload was checked cannot replace the bytes.
    """

    @property
    def backend(self) -> str:
        """The backend's name, recorded with each file (``local``, ``s3``, ``memory``)."""
        ...

    async def put(self, key: str, chunks: AsyncIterable[bytes], *, content_type: str) -> int:
        """Store the chunks under `key`; return how many bytes were stored."""
        ...

    def read(self, key: str, *, byte_range: ByteRange | None = None) -> AsyncIterator[bytes]:
        """The object's bytes, in chunks."""
        ...

    async def stat(self, key: str) -> StoredObject | None:
        """The object under `key`, if there is one."""
        ...

    async def delete(self, key: str) -> bool:
        """Remove the object; False if there was none."""
        ...

    def objects(self, prefix: str = "") -> AsyncIterator[StoredObject]:
        """Every object whose key starts with `prefix`."""
        ...

    async def remove_abandoned_uploads(self, older_than: timedelta) -> int:
        """Clear what puts that never finished left, older than `older_than`; return how many.

        A directory's temporary files of a process that died, an S3 bucket's unfinished
        multipart uploads. `older_than` must exceed how long a live upload may stall.
        """
        ...

    async def presign_put(
        self,
        key: str,
        *,
        size: int,
        content_type: str,
        sha256: Sha256Digest,
        expires_in: timedelta,
    ) -> PresignedRequest | None:
        """A PUT to `key` of exactly `size` bytes of `content_type` whose SHA-256 is `sha256`.

        Valid for `expires_in`; storage refuses a body with another SHA-256.
        """
        ...

    async def presign_get(
        self, key: str, *, content_type: str, download_name: str, expires_in: timedelta
    ) -> str | None:
        """A URL that reads the object as `content_type`, saved as `download_name`."""
        ...


async def discard_object(storage: FileStorage, key: str) -> bool:
    """Delete an object nothing will record, as far as storage lets us now; True if it went.

    An object left behind by an outage here is unreferenced, and garbage collection
    removes it later; the error that made us discard it matters more than this one.
    """
    try:
        return await storage.delete(key)
    except Exception:  # noqa: BLE001 - any failure leaves the object to garbage collection
        return False


@dataclass(frozen=True, slots=True, kw_only=True)
class FileUsage:
    """How many files of one purpose, status and backend there are, and their bytes."""

    purpose: FilePurpose
    status: FileStatus
    backend: str
    count: int
    total_bytes: int


class FileRepository(Protocol):
    """File records, inside the unit of work.

    `bytes_in_use` counts pending and ready files: a started direct upload holds its
    announced size against the quota until it is completed, rejected or deleted.
    """

    async def add(self, stored: StoredFile) -> None:
        """Store a new file record."""
        ...

    async def save(self, stored: StoredFile) -> None:
        """Store the record's changed fields."""
        ...

    async def get(self, file_id: FileId, *, for_update: bool = False) -> StoredFile | None:
        """The file with this id, in any status; `for_update` locks it until the end."""
        ...

    async def remove(self, file_id: FileId) -> bool:
        """Forget the record; False if it was already gone."""
        ...

    async def bytes_in_use(self, owner_id: UserId, *, lock: bool = False) -> int:
        """The bytes an owner's pending and ready files take.

        `lock` holds every other transaction's `lock`ed call for this owner until this
        transaction ends, so two uploads cannot both fit into the same last bytes.
        """
        ...

    async def attached_to(self, article_id: ArticleId) -> Sequence[StoredFile]:
        """The ready images attached to an article, oldest first."""
        ...

    async def stale(
        self, *, backend: str, pending_before: datetime, discarded_before: datetime, limit: int
    ) -> Sequence[StoredFile]:
        """What garbage collection clears, oldest first.

        Pending files started before `pending_before`, and rejected or deleted files last
        changed before `discarded_before`, whose bytes went to `backend`: a collection
        clears only what the storage it holds can delete.
        """
        ...

    async def referenced_keys(self, keys: Sequence[str]) -> set[str]:
        """Those of `keys` that a record names as its object or its thumbnail."""
        ...

    async def usage(self) -> Sequence[FileUsage]:
        """Counts and bytes per purpose, status and backend."""
        ...


class UnreadableImageError(Exception):
    """The bytes do not decode as an image, or would decode to too many pixels."""


class ImageProcessor(Protocol):
    """Makes small copies of images, without their metadata."""

    async def thumbnail(self, image: bytes, *, max_edge: int, max_pixels: int) -> bytes:
        """A WebP of `image` whose longer side is at most `max_edge`, with no EXIF or XMP.

        Raises `UnreadableImageError` for bytes that are not an image, and for an image of
        more than `max_pixels` pixels, before decoding it.
        """
        ...
