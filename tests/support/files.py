"""The files tests' material: real images made by Pillow, upload bodies, and the files use
cases wired on in-memory adapters beside the articles ones.
"""

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from io import BytesIO
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

from PIL import Image

from adapters.memory.database import InMemoryDatabase
from adapters.memory.file_storage import InMemoryFileStorage
from adapters.memory.files import InMemoryFileRepository
from application.common.identity import Identity
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from application.files.attach_article_images import AttachArticleImages
from application.files.collect_file_garbage import CollectFileGarbage
from application.files.complete_direct_upload import CompleteDirectUpload
from application.files.delete_article_images import DeleteArticleImages
from application.files.delete_file import DeleteFile
from application.files.file_usage import FileUsageReport
from application.files.links import DirectTransfers, FileLinks
from application.files.list_article_images import ListArticleImages
from application.files.make_thumbnail import MakeThumbnail
from application.files.ports import UnreadableImageError
from application.files.read_file import ReadFile
from application.files.receive_direct_upload import ReceiveDirectUpload
from application.files.set_avatar import SetAvatar
from application.files.start_direct_upload import StartDirectUpload
from application.files.upload_file import UploadFile, UploadFileCommand
from application.files.views import FileView
from domain.files.content import InspectedContent
from domain.files.policy import UploadPolicy
from domain.files.stored_file import StoredFile
from domain.files.values import FileId, FilePurpose, FileStatus
from domain.shared.events import DomainEvent
from tests.support.articles import ArticlesWorld
from tests.support.notification_fakes import RecordingQueue

PUBLIC_URL = "https://portico.test"
KIB = 1024

TEST_POLICY = UploadPolicy(
    max_bytes={
        FilePurpose.AVATAR: 100 * KIB,
        FilePurpose.ARTICLE_IMAGE: 200 * KIB,
        FilePurpose.ATTACHMENT: 300 * KIB,
    },
    quota_bytes=400 * KIB,
    max_image_pixels=1_000_000,
)
"""Limits small enough that tests reach them with a few hundred KiB."""


def image_bytes(
    image_format: str, *, size: tuple[int, int] = (40, 30), mode: str = "RGB", **options: Any
) -> bytes:
    """A real image of `size` in `image_format`, made by Pillow: a smooth gradient."""
    width, height = size
    image = Image.new(mode, size)
    image.putdata(
        [
            (x * 255 // width, y * 255 // height, 128, 200)[: len(mode)]
            for y in range(height)
            for x in range(width)
        ]
    )
    buffer = BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def png(size: tuple[int, int] = (40, 30)) -> bytes:
    return image_bytes("PNG", size=size)


def jpeg_with_big_exif(size: tuple[int, int] = (40, 30)) -> bytes:
    """A JPEG whose EXIF segment (almost 64 KiB) comes before the frame header."""
    exif = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08" + b"\x00" * 64_000
    return image_bytes("JPEG", size=size, exif=exif)


def png_declaring(width: int, height: int) -> bytes:
    """A small real PNG whose header claims `width` x `height` pixels (a decompression bomb)."""
    data = bytearray(png())
    data[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    return bytes(data)


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[offset : offset + size] for offset in range(0, len(data), size)]


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class UploadBody:
    """An upload's body as a client sends it: `data` in chunks of `chunk_size`.

    `pulled` counts the chunks the server asked for. With `fail_after`, the client goes
    away once it has sent that many chunks.
    """

    def __init__(self, data: bytes, *, chunk_size: int = 16 * KIB, fail_after: int | None = None):
        self._chunks = chunked(data, chunk_size)
        self._fail_after = fail_after
        self.pulled = 0

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._stream()

    async def _stream(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            if self._fail_after is not None and self.pulled == self._fail_after:
                raise ConnectionResetError("the client went away")
            self.pulled += 1
            yield chunk


class FakeImageProcessor:
    """The `ImageProcessor` port without decoding: a thumbnail is a fixed prefix and the
    original's digest, so a test can tell which image it was made of.

    While `unreadable` is set, every image is one it cannot read. `meanwhile` runs while
    a thumbnail is being made, as another request would.
    """

    PREFIX = b"RIFF thumbnail of "

    def __init__(self) -> None:
        self.unreadable = False
        self.requests: list[tuple[bytes, int, int]] = []
        self.meanwhile: Callable[[], Awaitable[None]] | None = None

    async def thumbnail(self, image: bytes, *, max_edge: int, max_pixels: int) -> bytes:
        self.requests.append((image, max_edge, max_pixels))
        if self.meanwhile is not None:
            await self.meanwhile()
        if self.unreadable:
            raise UnreadableImageError("cannot identify image file")
        return self.thumbnail_of(image)

    @classmethod
    def thumbnail_of(cls, image: bytes) -> bytes:
        return cls.PREFIX + sha256_of(image).encode()


class RecordingFileStorage(InMemoryFileStorage):
    """The memory storage, noting in order each deletion and each sweep of abandoned uploads."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.calls: list[tuple[str, str | timedelta]] = []

    async def delete(self, key: str) -> bool:
        self.calls.append(("delete", key))
        return await super().delete(key)

    async def remove_abandoned_uploads(self, older_than: timedelta) -> int:
        self.calls.append(("remove_abandoned_uploads", older_than))
        return await super().remove_abandoned_uploads(older_than)


class CompletedWhileListed(InMemoryFileRepository):
    """The memory repository, where the pending file `completing` is completed right after
    `stale` lists it, as a completion that commits between garbage collection's read and
    its removal would. `locked` notes the ids read `for_update`.
    """

    def __init__(self, database: InMemoryDatabase, *, completing: FileId, clock: Clock) -> None:
        super().__init__(database)
        self._completing = completing
        self._clock = clock
        self.locked: list[FileId] = []

    async def stale(
        self, *, backend: str, pending_before: datetime, discarded_before: datetime, limit: int
    ) -> Sequence[StoredFile]:
        listed = await super().stale(
            backend=backend,
            pending_before=pending_before,
            discarded_before=discarded_before,
            limit=limit,
        )
        current = await super().get(self._completing)
        if current is not None and current.status is FileStatus.PENDING:
            current.complete(
                InspectedContent(
                    content_type=current.content_type, size=current.size, sha256=current.sha256
                ),
                now=self._clock.now(),
            )
            await self.save(current)
        return listed

    async def get(self, file_id: FileId, *, for_update: bool = False) -> StoredFile | None:
        if for_update:
            self.locked.append(file_id)
        return await super().get(file_id, for_update=for_update)


@dataclass(frozen=True, slots=True)
class SignedUpload:
    """The parts of a signed upload URL that the API route hands to ReceiveDirectUpload."""

    file_id: FileId
    expires: int
    signature: str


def signed_upload(url: str, file_id: FileId) -> SignedUpload:
    query = parse_qs(urlsplit(url).query)
    return SignedUpload(
        file_id=file_id, expires=int(query["expires"][0]), signature=query["signature"][0]
    )


@dataclass
class FilesWorld(ArticlesWorld):
    """The files use cases on the in-memory database, clock and ids of the other contexts.

    Jobs go to `jobs`, a recording queue; storage is a `InMemoryFileStorage` on the clock.
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        self.files = InMemoryFileRepository(self.database)
        self.storage = InMemoryFileStorage(self.clock)
        self.jobs = RecordingQueue()
        self.images = FakeImageProcessor()
        self.policy = TEST_POLICY
        self.links = FileLinks(public_url=PUBLIC_URL, tokens=self.secrets)
        self.transfers = DirectTransfers(expires_in=timedelta(minutes=15), redirect_downloads=False)

    def upload_file(self) -> UploadFile:
        return UploadFile(
            uow=self.uow(),
            files=self.files,
            storage=self.storage,
            policy=self.policy,
            ids=self.ids,
            clock=self.clock,
            queue=self.jobs,
            links=self.links,
        )

    def start_direct_upload(self) -> StartDirectUpload:
        return StartDirectUpload(
            uow=self.uow(),
            files=self.files,
            storage=self.storage,
            policy=self.policy,
            ids=self.ids,
            clock=self.clock,
            links=self.links,
            transfers=self.transfers,
        )

    def receive_direct_upload(self) -> ReceiveDirectUpload:
        return ReceiveDirectUpload(
            uow=self.uow(),
            files=self.files,
            storage=self.storage,
            policy=self.policy,
            clock=self.clock,
            links=self.links,
        )

    def complete_direct_upload(self) -> CompleteDirectUpload:
        return CompleteDirectUpload(
            uow=self.uow(),
            files=self.files,
            storage=self.storage,
            policy=self.policy,
            clock=self.clock,
            queue=self.jobs,
            links=self.links,
        )

    def read_file(self) -> ReadFile:
        return ReadFile(
            uow=self.uow(),
            files=self.files,
            storage=self.storage,
            links=self.links,
            transfers=self.transfers,
        )

    def delete_file(self) -> DeleteFile:
        return DeleteFile(
            uow=self.uow(),
            files=self.files,
            storage=self.storage,
            users=self.users,
            clock=self.clock,
            links=self.links,
        )

    def set_avatar(self) -> SetAvatar:
        return SetAvatar(
            uow=self.uow(),
            files=self.files,
            storage=self.storage,
            users=self.users,
            clock=self.clock,
            links=self.links,
            read_cache=self.read_cache,
        )

    def attach_article_images(self) -> AttachArticleImages:
        return AttachArticleImages(
            uow=self.uow(),
            files=self.files,
            articles=self.articles,
            clock=self.clock,
            links=self.links,
            read_cache=self.read_cache,
        )

    def list_article_images(self) -> ListArticleImages:
        return ListArticleImages(
            uow=self.uow(), files=self.files, articles=self.articles, links=self.links
        )

    def delete_article_images(self, uow: UnitOfWork) -> DeleteArticleImages:
        return DeleteArticleImages(
            uow=uow, files=self.files, storage=self.storage, clock=self.clock
        )

    def make_thumbnail(self) -> MakeThumbnail:
        return MakeThumbnail(
            uow=self.uow(),
            files=self.files,
            storage=self.storage,
            images=self.images,
            clock=self.clock,
        )

    def collect_file_garbage(self) -> CollectFileGarbage:
        return CollectFileGarbage(
            uow=self.uow(), files=self.files, storage=self.storage, clock=self.clock
        )

    def file_usage_report(self) -> FileUsageReport:
        return FileUsageReport(uow=self.uow(), files=self.files)

    async def upload(
        self,
        actor: Identity,
        data: bytes,
        *,
        purpose: FilePurpose = FilePurpose.ATTACHMENT,
        name: str = "upload.bin",
    ) -> FileView:
        """Upload `data` through the API, announcing its length."""
        return await self.upload_file()(
            UploadFileCommand(
                actor=actor,
                purpose=purpose,
                name=name,
                chunks=UploadBody(data),
                declared_size=len(data),
            )
        )

    async def record(self, file_id: FileId | str) -> StoredFile | None:
        """The file's record as a use case would read it."""
        wanted = file_id if isinstance(file_id, FileId) else FileId(UUID(file_id))
        async with self.uow():
            return await self.files.get(wanted)

    async def object_keys(self) -> list[str]:
        """Every key storage holds, sorted."""
        return sorted([found.key async for found in self.storage.objects()])

    async def object_bytes(self, key: str) -> bytes:
        return b"".join([chunk async for chunk in self.storage.read(key)])

    async def put_object(self, key: str, data: bytes) -> None:
        """Store bytes straight in storage, as a client with a presigned URL would."""
        await self.storage.put(key, UploadBody(data), content_type="application/octet-stream")

    def file_events(self) -> list[str]:
        return [name for name in self.event_types() if name.startswith("file.")]

    def events_of(self, event_type: str) -> list[DomainEvent]:
        return [
            message.event for message in self.database.outbox if message.event_type == event_type
        ]
