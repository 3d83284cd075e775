"""Use case: read a file's bytes (or its thumbnail), whole or a range of them."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

from application.audit.capture import audited
from application.common.ports.unit_of_work import UnitOfWork
from application.files.access import load_file
from application.files.errors import StoredFileNotFoundError, ThumbnailNotReadyError
from application.files.links import DirectTransfers, FileLinks
from application.files.ports import ByteRange, FileRepository, FileStorage
from application.files.views import FileView
from domain.files.values import FileId
from domain.users.values import UserId

THUMBNAIL_CONTENT_TYPE = "image/webp"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadFileQuery:
    """Who reads which file: its thumbnail or itself, and which bytes of it.

    A range of bytes is asked of `FileDownload.open`: it may reach past the end, and is
    cut to the size; one that starts past the end is the caller's to refuse, from
    `FileDownload.size`, before reading.
    """

    reader: UserId | None
    file_id: FileId
    thumbnail: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class FileDownload:
    """What a reader gets: the file's facts, and the variant's type, name, size and ETag.

    `redirect_url` is set where storage serves the bytes itself (a presigned GET);
    otherwise `open` streams them.
    """

    file: FileView
    content_type: str
    name: str
    size: int
    etag: str
    redirect_url: str | None
    _storage: FileStorage
    _key: str

    def open(self, byte_range: ByteRange | None = None) -> AsyncIterator[bytes]:
        """The bytes, or those of `byte_range`."""
        return self._storage.read(self._key, byte_range=byte_range)


@audited("file.read", target="file", target_id=lambda query: query.file_id, denials_only=True)
class ReadFile:
    """Find a file the reader may read, and how its bytes reach them.

    Rules:
    - Only the owner reads an original. Avatars, and article images attached to an
      article, are public through their thumbnail, which carries no metadata. A file the
      reader may not read is not found.
    - Only ready files are read; a thumbnail only once the job has made it.
    - The ETag is the SHA-256 of the original, or derived from it for the thumbnail, so
      it changes whenever the bytes would.
    - With `redirect_downloads`, storage that presigns hands out a short-lived GET URL instead.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        files: FileRepository,
        storage: FileStorage,
        links: FileLinks,
        transfers: DirectTransfers,
    ) -> None:
        self._uow = uow
        self._files = files
        self._storage = storage
        self._links = links
        self._transfers = transfers

    async def __call__(self, query: ReadFileQuery) -> FileDownload:
        """The download of the file, or `StoredFileNotFoundError`."""
        async with self._uow:
            stored = await load_file(
                self._files, query.file_id, reader=query.reader, thumbnail=query.thumbnail
            )
        if stored.backend != self._storage.backend:
            raise StoredFileNotFoundError
        key, content_type, etag = stored.storage_key, stored.content_type, str(stored.sha256)
        name = str(stored.name)
        if query.thumbnail:
            if stored.thumbnail_key is None:
                raise ThumbnailNotReadyError
            key, content_type, etag = stored.thumbnail_key, THUMBNAIL_CONTENT_TYPE, f"t-{etag}"
            name = f"{name.rsplit('.', 1)[0]}.webp"
        found = await self._storage.stat(key)
        if found is None:
            raise StoredFileNotFoundError
        redirect_url = None
        if self._transfers.redirect_downloads:
            redirect_url = await self._storage.presign_get(
                key,
                content_type=content_type,
                download_name=name,
                expires_in=self._transfers.expires_in,
            )
        return FileDownload(
            file=self._links.view(stored),
            content_type=content_type,
            name=name,
            size=found.size,
            etag=etag,
            redirect_url=redirect_url,
            _storage=self._storage,
            _key=key,
        )
