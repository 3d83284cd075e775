"""The files use cases on in-memory adapters: uploads, direct uploads, reads, deletion,
avatars, article images, thumbnails, garbage collection and usage.

State is read back through the memory adapters of our own ports (the file repository,
the file storage, the outbox and a recording task queue); the image processor is a fake.
"""

from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from adapters.inprocess.event_bus import received
from application.articles.delete_article import DeleteArticleCommand
from application.articles.errors import ArticleNotFoundError, NotArticleAuthorError
from application.common.errors import NotFoundError, PermissionDeniedError
from application.common.identity import Identity
from application.files.attach_article_images import AttachArticleImagesCommand
from application.files.collect_file_garbage import CollectFileGarbageCommand, FileGarbageReport
from application.files.complete_direct_upload import CompleteDirectUploadCommand
from application.files.delete_file import DeleteFileCommand
from application.files.errors import (
    NotFileOwnerError,
    NothingUploadedError,
    StoredFileNotFoundError,
    ThumbnailNotReadyError,
    UploadUrlInvalidError,
)
from application.files.list_article_images import ListArticleImagesQuery
from application.files.make_thumbnail import MAKE_THUMBNAIL, MakeThumbnailCommand
from application.files.ports import ByteRange, FileUsage
from application.files.read_file import FileDownload, ReadFileQuery
from application.files.receive_direct_upload import ReceiveDirectUploadCommand
from application.files.set_avatar import SetAvatarCommand
from application.files.start_direct_upload import DirectUpload, StartDirectUploadCommand
from application.files.upload_file import UploadFileCommand
from application.files.views import FileView
from application.users.update_user import UpdateUserCommand
from domain.files.errors import (
    EmptyFileError,
    FileStateError,
    FileTooLargeError,
    ImageTooLargeError,
    StorageQuotaExceededError,
    UnsupportedFileTypeError,
    UploadMismatchError,
)
from domain.files.events import FileDeleted
from domain.files.policy import PDF, PLAIN_TEXT, PNG
from domain.files.stored_file import StoredFile
from domain.files.values import FileId, FileName, FilePurpose, FileStatus, Sha256Digest
from domain.shared.errors import DomainError
from domain.users.values import Role, UserId
from tests.support.files import (
    KIB,
    PUBLIC_URL,
    CompletedWhileListed,
    FakeImageProcessor,
    FilesWorld,
    RecordingFileStorage,
    UploadBody,
    png,
    png_declaring,
    sha256_of,
    signed_upload,
)

HOUR = timedelta(hours=1)
THUMBNAIL_EDGE = 256


@pytest.fixture
def world() -> FilesWorld:
    return FilesWorld()


def text(size: int) -> bytes:
    """`size` bytes of plain text."""
    return (b"lorem ipsum " * (size // 12 + 1))[:size]


def id_of(view: FileView) -> FileId:
    return FileId(UUID(view.id))


async def record(world: FilesWorld, view: FileView) -> StoredFile:
    found = await world.record(id_of(view))
    assert found is not None
    return found


async def bytes_in_use(world: FilesWorld, owner: Identity) -> int:
    async with world.uow():
        return await world.files.bytes_in_use(owner.user_id)


async def start(
    world: FilesWorld,
    actor: Identity,
    data: bytes,
    *,
    purpose: FilePurpose = FilePurpose.AVATAR,
    content_type: str = PNG,
) -> DirectUpload:
    return await world.start_direct_upload()(
        StartDirectUploadCommand(
            actor=actor,
            purpose=purpose,
            name="photo.png",
            size=len(data),
            content_type=content_type,
            sha256=sha256_of(data),
        )
    )


async def receive(
    world: FilesWorld,
    direct: DirectUpload,
    body: AsyncIterable[bytes],
    *,
    declared_size: int | None = None,
    content_type: str | None = None,
    url: str | None = None,
) -> None:
    signed = signed_upload(url or direct.upload.url, id_of(direct.file))
    await world.receive_direct_upload()(
        ReceiveDirectUploadCommand(
            file_id=signed.file_id,
            expires=signed.expires,
            signature=signed.signature,
            content_type=content_type,
            declared_size=declared_size,
            chunks=body,
        )
    )


async def complete(world: FilesWorld, actor: Identity, direct: DirectUpload) -> FileView:
    return await world.complete_direct_upload()(
        CompleteDirectUploadCommand(actor=actor, file_id=id_of(direct.file))
    )


async def read(
    world: FilesWorld, reader: Identity | None, view: FileView, *, thumbnail: bool = False
) -> FileDownload:
    return await world.read_file()(
        ReadFileQuery(
            reader=None if reader is None else reader.user_id,
            file_id=id_of(view),
            thumbnail=thumbnail,
        )
    )


async def downloaded(download: FileDownload, byte_range: ByteRange | None = None) -> bytes:
    return b"".join([chunk async for chunk in download.open(byte_range)])


async def delete(world: FilesWorld, actor: Identity, view: FileView) -> None:
    await world.delete_file()(DeleteFileCommand(actor=actor, file_id=id_of(view)))


async def make_thumbnail(world: FilesWorld, view: FileView | FileId) -> bool:
    file_id = view if isinstance(view, FileId) else id_of(view)
    return await world.make_thumbnail()(
        MakeThumbnailCommand(file_id=file_id, max_edge=THUMBNAIL_EDGE, max_pixels=1_000_000)
    )


async def set_avatar(world: FilesWorld, actor: Identity, view: FileView) -> str | None:
    account = await world.set_avatar()(
        SetAvatarCommand(actor=actor, access_token="token", file_id=id_of(view))
    )
    return account.image


async def profile_image(world: FilesWorld, actor: Identity) -> str | None:
    async with world.uow():
        user = await world.users.get(actor.user_id)
    assert user is not None
    return user.profile.image


async def attach(world: FilesWorld, actor: Identity, slug: str, *views: FileView) -> list[FileView]:
    return await world.attach_article_images()(
        AttachArticleImagesCommand(actor=actor, slug=slug, file_ids=[id_of(v) for v in views])
    )


async def article_images(world: FilesWorld, slug: str) -> list[str]:
    listed = await world.list_article_images()(ListArticleImagesQuery(slug=slug))
    return [view.id for view in listed]


async def collect(world: FilesWorld, *, dry_run: bool = False) -> FileGarbageReport:
    return await world.collect_file_garbage()(
        CollectFileGarbageCommand(pending_ttl=HOUR, orphan_grace=HOUR, dry_run=dry_run)
    )


async def deliver_article_deleted(world: FilesWorld) -> None:
    """Hand the newest `article.deleted` to DeleteArticleImages, in a transaction of its own."""
    message = [m for m in world.database.outbox if m.event_type == "article.deleted"][-1]
    uow = world.uow()
    async with uow:
        await world.delete_article_images(uow)(received(message))
        await uow.commit()


def deleted_by(world: FilesWorld) -> dict[str, str]:
    """Each `file.deleted` event: the file id and who deleted it."""
    return {
        event.aggregate_id: event.deleted_by
        for event in world.events_of("file.deleted")
        if isinstance(event, FileDeleted)
    }


# UploadFile


async def test_an_upload_is_stored_recorded_ready_and_announced(world: FilesWorld) -> None:
    alice = await world.writer("alice")
    data = text(40 * KIB)
    view = await world.upload(alice, data, name=" notes.txt ")
    assert view.status == "ready"
    assert (view.name, view.content_type, view.size, view.sha256) == (
        "notes.txt",
        PLAIN_TEXT,
        len(data),
        sha256_of(data),
    )
    assert view.url == f"{PUBLIC_URL}/api/files/{view.id}"
    assert view.thumbnail_url is None
    stored = await record(world, view)
    assert (stored.status, stored.owner_id, stored.backend) == (
        FileStatus.READY,
        alice.user_id,
        "memory",
    )
    assert await world.object_keys() == [f"files/{view.id}"]
    assert await world.object_bytes(f"files/{view.id}") == data
    assert world.file_events() == ["file.uploaded"]
    assert world.jobs.jobs == [], "only images get a thumbnail"


async def test_an_image_upload_asks_for_a_thumbnail_once_the_file_is_committed(
    world: FilesWorld,
) -> None:
    alice = await world.writer("alice")
    seen_at_enqueue: list[tuple[bool, list[str]]] = []

    def note_what_the_job_would_see(task: str, payload: Mapping[str, str]) -> None:
        recorded = world.database.table("files").get(FileId(UUID(payload["file_id"])))
        seen_at_enqueue.append((recorded is not None, world.file_events()))

    world.jobs.check = note_what_the_job_would_see
    view = await world.upload(alice, png(), purpose=FilePurpose.AVATAR, name="me.png")
    assert world.jobs.of(MAKE_THUMBNAIL) == [{"file_id": view.id}]
    assert seen_at_enqueue == [(True, ["file.uploaded"])]


REFUSED_UPLOADS = {
    "markup": (
        FilePurpose.ATTACHMENT,
        b"hello <script>alert(1)</script>",
        UnsupportedFileTypeError,
    ),
    "a pdf as an avatar": (FilePurpose.AVATAR, b"%PDF-1.7\n" + text(100), UnsupportedFileTypeError),
    "a decompression bomb": (
        FilePurpose.AVATAR,
        png_declaring(100_000, 100_000),
        ImageTooLargeError,
    ),
    "an image cut short": (FilePurpose.AVATAR, png()[:20], UnsupportedFileTypeError),
    "an empty body": (FilePurpose.ATTACHMENT, b"", EmptyFileError),
    "more than an avatar may be": (
        FilePurpose.AVATAR,
        png() + b"\x00" * 100 * KIB,
        FileTooLargeError,
    ),
    "control characters": (FilePurpose.ATTACHMENT, b"\x1b[2J cleared", UnsupportedFileTypeError),
}


@pytest.mark.parametrize("case", list(REFUSED_UPLOADS))
async def test_a_refused_upload_leaves_no_object_and_no_record(
    world: FilesWorld, case: str
) -> None:
    purpose, data, error = REFUSED_UPLOADS[case]
    alice = await world.writer("alice")
    with pytest.raises(error):
        await world.upload_file()(
            UploadFileCommand(
                actor=alice, purpose=purpose, name="upload", chunks=UploadBody(data, chunk_size=7)
            )
        )
    assert await world.object_keys() == []
    assert await world.file_usage_report()() == []
    assert world.file_events() == []
    assert world.jobs.jobs == []


async def test_a_declared_size_over_the_limit_is_refused_before_a_chunk_is_read(
    world: FilesWorld,
) -> None:
    alice = await world.writer("alice")
    body = UploadBody(png())
    with pytest.raises(FileTooLargeError):
        await world.upload_file()(
            UploadFileCommand(
                actor=alice,
                purpose=FilePurpose.AVATAR,
                name="me.png",
                chunks=body,
                declared_size=100 * KIB + 1,
            )
        )
    assert body.pulled == 0
    assert await world.object_keys() == []


async def test_a_bad_name_is_refused_before_a_chunk_is_read(world: FilesWorld) -> None:
    alice = await world.writer("alice")
    body = UploadBody(text(100))
    with pytest.raises(DomainError) as refused:
        await world.upload_file()(
            UploadFileCommand(
                actor=alice, purpose=FilePurpose.ATTACHMENT, name="../etc/passwd", chunks=body
            )
        )
    assert refused.value.field == "name"
    assert body.pulled == 0


async def test_a_declared_size_over_the_quota_is_refused_before_a_chunk_is_read(
    world: FilesWorld,
) -> None:
    alice = await world.writer("alice")
    await world.upload(alice, text(300 * KIB))
    body = UploadBody(text(100 * KIB + 1))
    with pytest.raises(StorageQuotaExceededError):
        await world.upload_file()(
            UploadFileCommand(
                actor=alice,
                purpose=FilePurpose.ATTACHMENT,
                name="more.txt",
                chunks=body,
                declared_size=100 * KIB + 1,
            )
        )
    assert body.pulled == 0
    assert await bytes_in_use(world, alice) == 300 * KIB


async def test_the_quota_is_checked_again_with_the_size_that_arrived(world: FilesWorld) -> None:
    alice = await world.writer("alice")
    kept = await world.upload(alice, text(300 * KIB))
    body = UploadBody(text(100 * KIB + 1))
    with pytest.raises(StorageQuotaExceededError):
        await world.upload_file()(
            UploadFileCommand(
                actor=alice, purpose=FilePurpose.ATTACHMENT, name="unannounced.txt", chunks=body
            )
        )
    assert body.pulled > 0, "without a declared size the body is read"
    assert await world.object_keys() == [f"files/{kept.id}"]
    assert await bytes_in_use(world, alice) == 300 * KIB


async def test_two_uploads_racing_for_the_last_bytes_cannot_both_fit(world: FilesWorld) -> None:
    alice = await world.writer("alice")
    await world.upload(alice, text(250 * KIB))
    finished_meanwhile: list[FileView] = []

    async def slow_body() -> AsyncIterator[bytes]:
        yield text(50 * KIB)
        finished_meanwhile.append(await world.upload(alice, text(100 * KIB)))
        yield text(50 * KIB)

    with pytest.raises(StorageQuotaExceededError):
        await world.upload_file()(
            UploadFileCommand(
                actor=alice, purpose=FilePurpose.ATTACHMENT, name="slow.txt", chunks=slow_body()
            )
        )
    assert await bytes_in_use(world, alice) == 350 * KIB
    assert len(await world.object_keys()) == 2
    assert f"files/{finished_meanwhile[0].id}" in await world.object_keys()


async def test_a_client_that_goes_away_mid_stream_leaves_nothing(world: FilesWorld) -> None:
    alice = await world.writer("alice")
    body = UploadBody(text(64 * KIB), chunk_size=8 * KIB, fail_after=3)
    with pytest.raises(ConnectionResetError):
        await world.upload_file()(
            UploadFileCommand(
                actor=alice,
                purpose=FilePurpose.ATTACHMENT,
                name="big.txt",
                chunks=body,
                declared_size=64 * KIB,
            )
        )
    assert body.pulled == 3
    assert await world.object_keys() == []
    assert await world.file_usage_report()() == []


# StartDirectUpload, ReceiveDirectUpload, CompleteDirectUpload


async def test_a_direct_upload_starts_pending_with_a_signed_api_url(world: FilesWorld) -> None:
    alice = await world.writer("alice")
    data = png()
    direct = await start(world, alice, data)
    assert direct.file.status == "pending"
    assert (await record(world, direct.file)).status is FileStatus.PENDING
    expires_at = world.clock.now() + timedelta(minutes=15)
    assert direct.upload.method == "PUT"
    assert dict(direct.upload.headers) == {"Content-Type": PNG, "Content-Length": str(len(data))}
    assert direct.upload.expires_at == expires_at
    assert direct.upload.url.startswith(
        f"{PUBLIC_URL}/api/files/{direct.file.id}/content?expires={int(expires_at.timestamp())}"
        "&signature="
    )
    assert await world.object_keys() == []
    assert await bytes_in_use(world, alice) == len(data), "the announced size holds the quota"
    assert world.file_events() == []


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"size": 100 * KIB + 1}, FileTooLargeError),
        ({"size": 0}, EmptyFileError),
        ({"content_type": PDF}, UnsupportedFileTypeError),
        ({"content_type": "image/svg+xml"}, UnsupportedFileTypeError),
        ({"sha256": "not a digest"}, DomainError),
        ({"name": "a/b.png"}, DomainError),
    ],
)
async def test_a_direct_upload_announcing_what_the_purpose_refuses_is_not_started(
    world: FilesWorld, changes: dict[str, object], error: type[Exception]
) -> None:
    alice = await world.writer("alice")
    command = StartDirectUploadCommand(
        actor=alice,
        purpose=FilePurpose.AVATAR,
        name="me.png",
        size=1000,
        content_type=PNG,
        sha256=sha256_of(b"x"),
    )
    with pytest.raises(error):
        await world.start_direct_upload()(replace(command, **changes))  # type: ignore[arg-type]
    assert await world.file_usage_report()() == []


async def test_a_direct_upload_over_the_quota_is_not_started(world: FilesWorld) -> None:
    alice = await world.writer("alice")
    await world.upload(alice, text(300 * KIB))
    await start(
        world, alice, text(100 * KIB), purpose=FilePurpose.ATTACHMENT, content_type=PLAIN_TEXT
    )
    with pytest.raises(StorageQuotaExceededError):
        await start(world, alice, b"x", purpose=FilePurpose.ATTACHMENT, content_type=PLAIN_TEXT)


async def test_received_then_completed_a_direct_upload_is_ready(world: FilesWorld) -> None:
    alice = await world.writer("alice")
    data = png()
    direct = await start(world, alice, data)
    await receive(
        world, direct, UploadBody(data, chunk_size=7), declared_size=len(data), content_type=PNG
    )
    assert await world.object_bytes(f"files/{direct.file.id}") == data
    assert (await record(world, direct.file)).status is FileStatus.PENDING
    assert world.file_events() == []
    view = await complete(world, alice, direct)
    assert (view.id, view.status, view.content_type, view.sha256) == (
        direct.file.id,
        "ready",
        PNG,
        sha256_of(data),
    )
    assert (await record(world, direct.file)).status is FileStatus.READY
    assert world.file_events() == ["file.uploaded"]
    assert world.jobs.of(MAKE_THUMBNAIL) == [{"file_id": view.id}]


def tampered(url: str, *, signature: str | None = None, expires: int | None = None) -> str:
    base, query = url.split("?", 1)
    fields = dict(part.split("=", 1) for part in query.split("&"))
    if signature is not None:
        fields["signature"] = signature
    if expires is not None:
        fields["expires"] = str(expires)
    return f"{base}?{'&'.join(f'{k}={v}' for k, v in fields.items())}"


@pytest.mark.parametrize("how", ["forged signature", "extended expiry", "expired"])
async def test_an_upload_url_must_carry_our_signature_and_be_unexpired(
    world: FilesWorld, how: str
) -> None:
    alice = await world.writer("alice")
    data = png()
    direct = await start(world, alice, data)
    url = direct.upload.url
    if how == "forged signature":
        url = tampered(url, signature="0" * 64)
    elif how == "extended expiry":
        url = tampered(url, expires=int(direct.upload.expires_at.timestamp()) + 3600)
    else:
        world.clock.advance(timedelta(minutes=15, seconds=1))
    body = UploadBody(data)
    with pytest.raises(UploadUrlInvalidError) as refused:
        await receive(world, direct, body, url=url)
    assert isinstance(refused.value, PermissionDeniedError)
    assert body.pulled == 0
    assert await world.object_keys() == []


async def test_an_upload_url_works_until_the_moment_it_expires(world: FilesWorld) -> None:
    alice = await world.writer("alice")
    data = png()
    direct = await start(world, alice, data)
    world.clock.advance(timedelta(minutes=15))
    await receive(world, direct, UploadBody(data))
    assert await world.object_keys() == [f"files/{direct.file.id}"]


@pytest.mark.parametrize(
    ("how", "error"),
    [
        ("another declared length", FileTooLargeError),
        ("another content type", UnsupportedFileTypeError),
        ("more bytes than announced", FileTooLargeError),
        ("markup", UnsupportedFileTypeError),
    ],
)
async def test_an_upload_url_takes_only_the_announced_length_and_type(
    world: FilesWorld, how: str, error: type[Exception]
) -> None:
    alice = await world.writer("alice")
    data = png()
    direct = await start(world, alice, data)
    body, content_type = UploadBody(data), PNG
    declared: int | None = len(data)
    if how == "another declared length":
        declared = len(data) + 1
    elif how == "another content type":
        content_type = "image/jpeg"
    elif how == "more bytes than announced":
        body, declared = UploadBody(data + b"\x00", chunk_size=7), None
    else:
        with_markup = data[:-12] + b"<svg onload=alert(1)>"
        direct = await start(world, alice, with_markup)
        body, declared = UploadBody(with_markup), len(with_markup)
    with pytest.raises(error):
        await receive(world, direct, body, declared_size=declared, content_type=content_type)
    assert await world.object_keys() == []
    assert (await record(world, direct.file)).status is FileStatus.PENDING


async def test_a_later_put_replaces_an_earlier_one_until_the_upload_is_completed(
    world: FilesWorld,
) -> None:
    alice = await world.writer("alice")
    data = png()
    direct = await start(world, alice, data)
    key = f"files/{direct.file.id}"
    smaller = png(size=(8, 8))
    assert len(smaller) < len(data)
    await world.put_object(key, smaller)  # an earlier PUT, which S3 would take unchecked
    world.clock.advance(timedelta(minutes=1))
    await receive(world, direct, UploadBody(data))
    assert await world.object_bytes(key) == data
    world.clock.advance(timedelta(minutes=1))
    await receive(world, direct, UploadBody(data))
    replaced = await world.storage.stat(key)
    assert replaced is not None
    assert replaced.modified_at == world.clock.now(), "the same bytes again replace them too"
    assert (await complete(world, alice, direct)).status == "ready"
    world.clock.advance(timedelta(minutes=1))
    with pytest.raises(StoredFileNotFoundError):
        await receive(world, direct, UploadBody(data))
    assert await world.storage.stat(key) == replaced


async def test_a_put_still_streaming_when_the_upload_completes_leaves_the_checked_bytes(
    world: FilesWorld,
) -> None:
    alice = await world.writer("alice")
    data = png()
    direct = await start(world, alice, data)
    await receive(world, direct, UploadBody(data))
    replacement = png(size=(8, 8))

    async def late_body() -> AsyncIterator[bytes]:
        yield replacement[:16]
        assert (await complete(world, alice, direct)).status == "ready"
        yield replacement[16:]

    with pytest.raises(UploadMismatchError):
        await receive(world, direct, late_body())
    ready = await record(world, direct.file)
    assert ready.status is FileStatus.READY
    stored_bytes = await world.object_bytes(ready.storage_key)
    assert (len(stored_bytes), sha256_of(stored_bytes)) == (ready.size, ready.sha256.value), (
        "a ready file's bytes are the ones that were checked against what was announced"
    )
    assert stored_bytes == data


@pytest.mark.parametrize("arrived", ["shorter", "same length, other bytes"])
@pytest.mark.parametrize(
    "before", ["nothing", "the announced bytes", "other bytes put straight into storage"]
)
async def test_a_put_of_other_bytes_than_announced_is_refused_and_keeps_what_was_there(
    world: FilesWorld, before: str, arrived: str
) -> None:
    alice = await world.writer("alice")
    data = png()
    direct = await start(world, alice, data)
    key = f"files/{direct.file.id}"
    earlier: bytes | None = None
    if before == "the announced bytes":
        earlier = data
        await receive(world, direct, UploadBody(data))
    elif before == "other bytes put straight into storage":
        earlier = png(size=(8, 8))
        await world.put_object(key, earlier)
    other = data[:-1] if arrived == "shorter" else data[:-1] + bytes([data[-1] ^ 1])
    assert sha256_of(other) != sha256_of(data)
    with pytest.raises(UploadMismatchError) as refused:
        await receive(world, direct, UploadBody(other, chunk_size=7))
    assert refused.value.message == "the uploaded bytes' SHA-256 is not the one announced"
    if earlier is None:
        assert await world.object_keys() == []
    else:
        assert await world.object_keys() == [key]
        assert await world.object_bytes(key) == earlier
    assert (await record(world, direct.file)).status is FileStatus.PENDING
    assert world.file_events() == []
    await receive(world, direct, UploadBody(data))
    assert (await complete(world, alice, direct)).status == "ready", "the client may PUT again"


@pytest.mark.parametrize("arrived", ["shorter", "same length, other bytes"])
async def test_completing_with_another_object_rejects_the_file_and_removes_the_object(
    world: FilesWorld, arrived: str
) -> None:
    alice = await world.writer("alice")
    data = png()
    direct = await start(world, alice, data)
    other = data[:-1] if arrived == "shorter" else data[:-1] + bytes([data[-1] ^ 1])
    await world.put_object(f"files/{direct.file.id}", other)  # as a presigned S3 PUT could
    with pytest.raises(UploadMismatchError):
        await complete(world, alice, direct)
    assert (await record(world, direct.file)).status is FileStatus.REJECTED
    assert await world.object_keys() == []
    assert world.file_events() == []
    assert world.jobs.jobs == []
    assert await bytes_in_use(world, alice) == 0, "a rejected upload holds no quota"


async def test_an_object_put_straight_into_storage_is_checked_on_completion(
    world: FilesWorld,
) -> None:
    alice = await world.writer("alice")
    polyglot = png() + b"<script>alert(1)</script>"
    direct = await start(world, alice, polyglot)
    await world.put_object(f"files/{direct.file.id}", polyglot)
    with pytest.raises(UnsupportedFileTypeError):
        await complete(world, alice, direct)
    assert (await record(world, direct.file)).status is FileStatus.REJECTED
    assert await world.object_keys() == []


async def test_completing_before_anything_was_uploaded_keeps_the_file_pending(
    world: FilesWorld,
) -> None:
    alice = await world.writer("alice")
    data = png()
    direct = await start(world, alice, data)
    with pytest.raises(NothingUploadedError):
        await complete(world, alice, direct)
    assert (await record(world, direct.file)).status is FileStatus.PENDING
    await receive(world, direct, UploadBody(data))
    assert (await complete(world, alice, direct)).status == "ready"


async def test_completing_twice_answers_the_ready_file_and_announces_it_once(
    world: FilesWorld,
) -> None:
    alice = await world.writer("alice")
    data = png()
    direct = await start(world, alice, data)
    await receive(world, direct, UploadBody(data))
    first = await complete(world, alice, direct)
    again = await complete(world, alice, direct)
    assert again == first
    assert world.file_events() == ["file.uploaded"]
    assert len(world.jobs.of(MAKE_THUMBNAIL)) == 1


async def test_only_the_owner_completes_a_direct_upload(world: FilesWorld) -> None:
    alice, bob = await world.writer("alice"), await world.writer("bob")
    data = png()
    direct = await start(world, alice, data)
    await receive(world, direct, UploadBody(data))
    with pytest.raises(StoredFileNotFoundError):
        await complete(world, bob, direct)
    assert (await record(world, direct.file)).status is FileStatus.PENDING


# ReadFile


async def uploads_for_every_reader_rule(world: FilesWorld, owner: Identity) -> dict[str, FileView]:
    avatar = await world.upload(owner, png(), purpose=FilePurpose.AVATAR, name="me.png")
    loose = await world.upload(owner, png(), purpose=FilePurpose.ARTICLE_IMAGE, name="a.png")
    shown = await world.upload(owner, png(), purpose=FilePurpose.ARTICLE_IMAGE, name="b.png")
    attachment = await world.upload(owner, png(), name="scan.png")
    article = await world.publish(owner)
    await attach(world, owner, article.slug, shown)
    for image in (avatar, loose, shown, attachment):
        assert await make_thumbnail(world, image)
    return {
        "avatar": avatar,
        "article image not attached": loose,
        "article image attached": shown,
        "attachment": attachment,
    }


@pytest.mark.parametrize(
    ("kind", "thumbnail", "readers"),
    [
        ("avatar", False, {"owner"}),
        ("avatar", True, {"owner", "another user", "anonymous"}),
        ("article image not attached", False, {"owner"}),
        ("article image not attached", True, {"owner"}),
        ("article image attached", False, {"owner"}),
        ("article image attached", True, {"owner", "another user", "anonymous"}),
        ("attachment", False, {"owner"}),
        ("attachment", True, {"owner"}),
    ],
)
async def test_who_reads_a_file_follows_from_its_purpose(
    world: FilesWorld, kind: str, thumbnail: bool, readers: set[str]
) -> None:
    """Only the owner reads an original (a photo's metadata may hold where it was taken);
    the public reads an avatar or an attached article image through its thumbnail."""
    alice, bob = await world.writer("alice"), await world.writer("bob")
    view = (await uploads_for_every_reader_rule(world, alice))[kind]
    allowed = set()
    for name, reader in {"owner": alice, "another user": bob, "anonymous": None}.items():
        try:
            await read(world, reader, view, thumbnail=thumbnail)
        except StoredFileNotFoundError:
            continue
        allowed.add(name)
    assert allowed == readers


async def test_a_download_carries_its_type_name_size_and_a_sha256_etag(
    world: FilesWorld,
) -> None:
    alice = await world.writer("alice")
    data = text(200 * KIB)
    view = await world.upload(alice, data, name="notes.txt")
    download = await read(world, alice, view)
    assert (download.content_type, download.name, download.size, download.etag) == (
        PLAIN_TEXT,
        "notes.txt",
        len(data),
        sha256_of(data),
    )
    assert download.redirect_url is None
    assert download.file == view
    assert await downloaded(download) == data
    assert await downloaded(download, ByteRange(10, 19)) == data[10:20]
    assert await downloaded(download, ByteRange(len(data) - 5, len(data) + 100)) == data[-5:]


async def test_a_pending_file_is_read_by_nobody(world: FilesWorld) -> None:
    alice = await world.writer("alice")
    data = png()
    direct = await start(world, alice, data)
    await receive(world, direct, UploadBody(data))
    with pytest.raises(StoredFileNotFoundError):
        await read(world, alice, direct.file)


async def test_a_thumbnail_is_read_once_it_is_made(world: FilesWorld) -> None:
    alice = await world.writer("alice")
    data = png()
    view = await world.upload(alice, data, purpose=FilePurpose.AVATAR, name="me.and.you.png")
    with pytest.raises(ThumbnailNotReadyError) as refused:
        await read(world, None, view, thumbnail=True)
    assert isinstance(refused.value, NotFoundError)
    assert await make_thumbnail(world, view)
    download = await read(world, None, view, thumbnail=True)
    assert (download.content_type, download.name, download.etag) == (
        "image/webp",
        "me.and.you.webp",
        f"t-{sha256_of(data)}",
    )
    assert await downloaded(download) == FakeImageProcessor.thumbnail_of(data)
    assert download.file.thumbnail_url == f"{PUBLIC_URL}/api/files/{view.id}/thumbnail"


async def test_a_file_recorded_on_another_backend_is_not_found(world: FilesWorld) -> None:
    alice = await world.writer("alice")
    elsewhere = stored_file(
        alice.user_id, FilePurpose.AVATAR, FileStatus.READY, number=1, backend="s3"
    )
    await add_records(world, elsewhere)
    with pytest.raises(StoredFileNotFoundError):
        await world.read_file()(ReadFileQuery(reader=alice.user_id, file_id=elsewhere.id))


# DeleteFile


async def test_the_owner_deletes_a_file_with_its_bytes_and_thumbnail(world: FilesWorld) -> None:
    alice = await world.writer("alice")
    view = await world.upload(alice, png(), purpose=FilePurpose.ARTICLE_IMAGE)
    await make_thumbnail(world, view)
    assert len(await world.object_keys()) == 2
    await delete(world, alice, view)
    assert (await record(world, view)).status is FileStatus.DELETED
    assert await world.object_keys() == []
    assert deleted_by(world) == {view.id: str(alice.user_id)}
    assert await bytes_in_use(world, alice) == 0
    with pytest.raises(StoredFileNotFoundError):
        await read(world, alice, view)
    with pytest.raises(StoredFileNotFoundError):
        await delete(world, alice, view)
    assert len(deleted_by(world)) == 1


async def test_another_user_is_told_a_readable_file_is_not_theirs_and_a_private_one_is_missing(
    world: FilesWorld,
) -> None:
    alice, bob = await world.writer("alice"), await world.writer("bob")
    avatar = await world.upload(alice, png(), purpose=FilePurpose.AVATAR)
    attachment = await world.upload(alice, text(100))
    with pytest.raises(StoredFileNotFoundError):
        await read(world, bob, avatar)  # bob may know of the avatar by its thumbnail only
    with pytest.raises(NotFileOwnerError) as forbidden:
        await delete(world, bob, avatar)
    assert isinstance(forbidden.value, PermissionDeniedError)
    with pytest.raises(StoredFileNotFoundError) as hidden:
        await delete(world, bob, attachment)
    assert isinstance(hidden.value, NotFoundError)
    assert [(await record(world, v)).status for v in (avatar, attachment)] == [FileStatus.READY] * 2
    assert len(await world.object_keys()) == 2
    assert world.file_events() == ["file.uploaded", "file.uploaded"]


async def test_another_user_is_told_an_attached_image_is_not_theirs_and_a_detached_one_is_missing(
    world: FilesWorld,
) -> None:
    alice, bob = await world.writer("alice"), await world.writer("bob")
    article = await world.publish(alice)
    shown = await world.upload(alice, png(), purpose=FilePurpose.ARTICLE_IMAGE)
    loose = await world.upload(alice, png(), purpose=FilePurpose.ARTICLE_IMAGE)
    await attach(world, alice, article.slug, shown)
    with pytest.raises(NotFileOwnerError):
        await delete(world, bob, shown)
    with pytest.raises(StoredFileNotFoundError):
        await delete(world, bob, loose)
    assert [(await record(world, v)).status for v in (shown, loose)] == [FileStatus.READY] * 2
    assert deleted_by(world) == {}


async def test_a_moderator_deletes_anyones_file(world: FilesWorld) -> None:
    alice = await world.writer("alice")
    moderator = replace(await world.writer("mod"), role=Role.MODERATOR)
    attachment = await world.upload(alice, text(100))
    await delete(world, moderator, attachment)
    assert (await record(world, attachment)).status is FileStatus.DELETED
    assert deleted_by(world) == {attachment.id: str(moderator.user_id)}
    assert await world.object_keys() == []


async def test_the_owner_deletes_a_pending_upload_without_announcing_it(
    world: FilesWorld,
) -> None:
    alice = await world.writer("alice")
    data = png()
    direct = await start(world, alice, data)
    await receive(world, direct, UploadBody(data))
    await delete(world, alice, direct.file)
    assert (await record(world, direct.file)).status is FileStatus.DELETED
    assert await world.object_keys() == []
    assert world.file_events() == []


@pytest.mark.parametrize("by", ["owner", "moderator"])
async def test_deleting_the_current_avatar_leaves_the_profile_without_an_image(
    world: FilesWorld, by: str
) -> None:
    alice = await world.writer("alice")
    moderator = replace(await world.writer("mod"), role=Role.MODERATOR)
    avatar = await world.upload(alice, png(), purpose=FilePurpose.AVATAR)
    await set_avatar(world, alice, avatar)
    await delete(world, alice if by == "owner" else moderator, avatar)
    assert await profile_image(world, alice) is None


async def test_deleting_another_avatar_file_keeps_the_profile_image(world: FilesWorld) -> None:
    alice = await world.writer("alice")
    current = await world.upload(alice, png(), purpose=FilePurpose.AVATAR)
    spare = await world.upload(alice, png(size=(20, 20)), purpose=FilePurpose.AVATAR)
    image = await set_avatar(world, alice, current)
    await delete(world, alice, spare)
    assert await profile_image(world, alice) == image


# SetAvatar


async def test_an_avatar_shows_as_the_thumbnail_url_of_the_file(world: FilesWorld) -> None:
    alice = await world.writer("alice")
    avatar = await world.upload(alice, png(), purpose=FilePurpose.AVATAR)
    image = await set_avatar(world, alice, avatar)
    assert image == f"{PUBLIC_URL}/api/files/{avatar.id}/thumbnail"
    assert await profile_image(world, alice) == image
    assert world.event_types()[-1] == "user.profile_updated"


async def test_a_new_avatar_deletes_the_previous_avatar_file(world: FilesWorld) -> None:
    alice = await world.writer("alice")
    first = await world.upload(alice, png(), purpose=FilePurpose.AVATAR)
    second = await world.upload(alice, png(size=(20, 20)), purpose=FilePurpose.AVATAR)
    await set_avatar(world, alice, first)
    await set_avatar(world, alice, second)
    assert (await record(world, first)).status is FileStatus.DELETED
    assert (await record(world, second)).status is FileStatus.READY
    assert await world.object_keys() == [f"files/{second.id}"]
    assert deleted_by(world) == {first.id: str(alice.user_id)}
    assert await bytes_in_use(world, alice) == second.size


async def test_a_profile_image_pointing_at_another_users_avatar_is_not_deleted(
    world: FilesWorld,
) -> None:
    alice, bob = await world.writer("alice"), await world.writer("bob")
    bobs = await world.upload(bob, png(), purpose=FilePurpose.AVATAR)
    await set_avatar(world, bob, bobs)
    await world.update_user()(
        UpdateUserCommand(
            actor=alice, access_token="token", image=f"{PUBLIC_URL}/api/files/{bobs.id}/thumbnail"
        )
    )
    alices = await world.upload(alice, png(), purpose=FilePurpose.AVATAR)
    await set_avatar(world, alice, alices)
    assert (await record(world, bobs)).status is FileStatus.READY
    assert f"files/{bobs.id}" in await world.object_keys()
    assert deleted_by(world) == {}


async def test_setting_the_same_avatar_again_keeps_its_file(world: FilesWorld) -> None:
    alice = await world.writer("alice")
    avatar = await world.upload(alice, png(), purpose=FilePurpose.AVATAR)
    await set_avatar(world, alice, avatar)
    await set_avatar(world, alice, avatar)
    assert (await record(world, avatar)).status is FileStatus.READY
    assert deleted_by(world) == {}


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("an attachment", FileStateError),
        ("an article image", FileStateError),
        ("a pending avatar", FileStateError),
        ("another user's avatar", StoredFileNotFoundError),
        ("a deleted avatar", StoredFileNotFoundError),
    ],
)
async def test_only_ones_own_ready_avatar_file_becomes_the_avatar(
    world: FilesWorld, case: str, error: type[Exception]
) -> None:
    alice, bob = await world.writer("alice"), await world.writer("bob")
    current = await world.upload(alice, png(), purpose=FilePurpose.AVATAR)
    image = await set_avatar(world, alice, current)
    if case == "an attachment":
        candidate = await world.upload(alice, png(), purpose=FilePurpose.ATTACHMENT)
    elif case == "an article image":
        candidate = await world.upload(alice, png(), purpose=FilePurpose.ARTICLE_IMAGE)
    elif case == "a pending avatar":
        candidate = (await start(world, alice, png(size=(10, 10)))).file
    elif case == "another user's avatar":
        candidate = await world.upload(bob, png(), purpose=FilePurpose.AVATAR)
    else:
        candidate = await world.upload(alice, png(), purpose=FilePurpose.AVATAR)
        await delete(world, alice, candidate)
    with pytest.raises(error):
        await set_avatar(world, alice, candidate)
    assert await profile_image(world, alice) == image
    assert (await record(world, current)).status is FileStatus.READY


# AttachArticleImages, ListArticleImages


async def test_attached_images_are_public_and_listed_oldest_first(world: FilesWorld) -> None:
    alice = await world.writer("alice")
    article = await world.publish(alice)
    first = await world.upload(alice, png(), purpose=FilePurpose.ARTICLE_IMAGE)
    world.clock.advance(timedelta(seconds=1))
    second = await world.upload(alice, png(), purpose=FilePurpose.ARTICLE_IMAGE)
    attached = await attach(world, alice, article.slug, second, first)
    assert [view.id for view in attached] == [second.id, first.id]
    assert {view.article_id for view in attached} == {str((await record(world, first)).article_id)}
    assert await article_images(world, article.slug) == [first.id, second.id]
    assert await make_thumbnail(world, first)
    assert (await read(world, None, first, thumbnail=True)).content_type == "image/webp"
    with pytest.raises(StoredFileNotFoundError):
        await read(world, None, first)


async def test_a_new_set_of_images_detaches_the_others_without_deleting_them(
    world: FilesWorld,
) -> None:
    alice = await world.writer("alice")
    article = await world.publish(alice)
    kept = await world.upload(alice, png(), purpose=FilePurpose.ARTICLE_IMAGE)
    dropped = await world.upload(alice, png(), purpose=FilePurpose.ARTICLE_IMAGE)
    assert await make_thumbnail(world, dropped)
    await attach(world, alice, article.slug, kept, dropped)
    await read(world, None, dropped, thumbnail=True)
    await attach(world, alice, article.slug, kept)
    assert await article_images(world, article.slug) == [kept.id]
    detached = await record(world, dropped)
    assert (detached.status, detached.article_id) == (FileStatus.READY, None)
    with pytest.raises(StoredFileNotFoundError):
        await read(world, None, dropped, thumbnail=True)
    assert (await read(world, alice, dropped)).size == dropped.size
    await attach(world, alice, article.slug)
    assert await article_images(world, article.slug) == []


async def test_the_images_of_an_unknown_article_are_not_found(world: FilesWorld) -> None:
    with pytest.raises(ArticleNotFoundError):
        await article_images(world, "no-such-article")


async def test_only_the_author_chooses_an_articles_images(world: FilesWorld) -> None:
    alice, bob = await world.writer("alice"), await world.writer("bob")
    article = await world.publish(alice)
    bobs = await world.upload(bob, png(), purpose=FilePurpose.ARTICLE_IMAGE)
    with pytest.raises(NotArticleAuthorError):
        await attach(world, bob, article.slug, bobs)
    assert await article_images(world, article.slug) == []


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("another user's image", StoredFileNotFoundError),
        ("an attachment", FileStateError),
        ("an avatar", FileStateError),
        ("a pending image", FileStateError),
        ("the same image twice", DomainError),
        ("21 images", DomainError),
    ],
)
async def test_only_ones_own_ready_article_images_are_attached_all_or_none(
    world: FilesWorld, case: str, error: type[Exception]
) -> None:
    alice, bob = await world.writer("alice"), await world.writer("bob")
    article = await world.publish(alice)
    good = await world.upload(alice, png(), purpose=FilePurpose.ARTICLE_IMAGE)
    wanted = [good]
    if case == "another user's image":
        wanted.append(await world.upload(bob, png(), purpose=FilePurpose.ARTICLE_IMAGE))
    elif case == "an attachment":
        wanted.append(await world.upload(alice, png(), purpose=FilePurpose.ATTACHMENT))
    elif case == "an avatar":
        wanted.append(await world.upload(alice, png(), purpose=FilePurpose.AVATAR))
    elif case == "a pending image":
        wanted.append((await start(world, alice, png(), purpose=FilePurpose.ARTICLE_IMAGE)).file)
    elif case == "the same image twice":
        wanted.append(good)
    else:
        wanted.extend(
            [
                await world.upload(alice, png(size=(4, 4)), purpose=FilePurpose.ARTICLE_IMAGE)
                for _ in range(20)
            ]
        )
    with pytest.raises(error):
        await attach(world, alice, article.slug, *wanted)
    assert await article_images(world, article.slug) == []
    assert (await record(world, good)).article_id is None


# DeleteArticleImages


async def test_deleting_an_article_deletes_the_images_it_carried(world: FilesWorld) -> None:
    alice = await world.writer("alice")
    article = await world.publish(alice)
    other_article = await world.publish(alice, "Another")
    carried = await world.upload(alice, png(), purpose=FilePurpose.ARTICLE_IMAGE)
    elsewhere = await world.upload(alice, png(), purpose=FilePurpose.ARTICLE_IMAGE)
    loose = await world.upload(alice, png(), purpose=FilePurpose.ARTICLE_IMAGE)
    await attach(world, alice, article.slug, carried)
    await attach(world, alice, other_article.slug, elsewhere)
    await world.delete_article()(DeleteArticleCommand(actor=alice, slug=article.slug))
    await deliver_article_deleted(world)
    assert (await record(world, carried)).status is FileStatus.DELETED
    assert deleted_by(world) == {carried.id: str(alice.user_id)}
    assert f"files/{carried.id}" not in await world.object_keys()
    assert (await record(world, elsewhere)).status is FileStatus.READY
    assert (await record(world, loose)).status is FileStatus.READY


async def test_an_article_deleted_event_delivered_again_deletes_nothing_more(
    world: FilesWorld,
) -> None:
    alice = await world.writer("alice")
    article = await world.publish(alice)
    carried = await world.upload(alice, png(), purpose=FilePurpose.ARTICLE_IMAGE)
    await attach(world, alice, article.slug, carried)
    await world.delete_article()(DeleteArticleCommand(actor=alice, slug=article.slug))
    await deliver_article_deleted(world)
    assert deleted_by(world) == {carried.id: str(alice.user_id)}
    await deliver_article_deleted(world)
    assert len(world.events_of("file.deleted")) == 1
    assert (await record(world, carried)).status is FileStatus.DELETED


# MakeThumbnail


async def test_a_thumbnail_is_stored_and_recorded_for_an_image(world: FilesWorld) -> None:
    alice = await world.writer("alice")
    data = png()
    view = await world.upload(alice, data, purpose=FilePurpose.ARTICLE_IMAGE)
    assert await make_thumbnail(world, view)
    key = f"thumbnails/{view.id}.webp"
    assert await world.object_bytes(key) == FakeImageProcessor.thumbnail_of(data)
    assert (await record(world, view)).thumbnail_key == key
    assert world.images.requests == [(data, THUMBNAIL_EDGE, 1_000_000)]


async def test_a_repeated_thumbnail_job_does_nothing(world: FilesWorld) -> None:
    alice = await world.writer("alice")
    view = await world.upload(alice, png(), purpose=FilePurpose.AVATAR)
    assert await make_thumbnail(world, view)
    assert not await make_thumbnail(world, view)
    assert len(world.images.requests) == 1


@pytest.mark.parametrize("case", ["text", "a pdf", "a pending image", "a deleted image", "no file"])
async def test_files_that_are_not_ready_images_get_no_thumbnail(
    world: FilesWorld, case: str
) -> None:
    alice = await world.writer("alice")
    target: FileView | FileId
    if case == "text":
        target = await world.upload(alice, text(100))
    elif case == "a pdf":
        target = await world.upload(alice, b"%PDF-1.4\n" + text(100))
    elif case == "a pending image":
        direct = await start(world, alice, png())
        await receive(world, direct, UploadBody(png()))
        target = direct.file
    elif case == "a deleted image":
        target = await world.upload(alice, png(), purpose=FilePurpose.AVATAR)
        await delete(world, alice, target)
    else:
        target = FileId(UUID(int=999_999))
    keys = await world.object_keys()
    assert not await make_thumbnail(world, target)
    assert world.images.requests == []
    assert await world.object_keys() == keys


async def test_an_unreadable_image_gets_no_thumbnail_and_the_job_ends_quietly(
    world: FilesWorld,
) -> None:
    alice = await world.writer("alice")
    view = await world.upload(alice, png(), purpose=FilePurpose.AVATAR)
    world.images.unreadable = True
    assert not await make_thumbnail(world, view)
    assert (await record(world, view)).thumbnail_key is None
    assert await world.object_keys() == [f"files/{view.id}"]


async def test_a_thumbnail_made_while_its_file_was_deleted_is_removed_again(
    world: FilesWorld,
) -> None:
    alice = await world.writer("alice")
    view = await world.upload(alice, png(), purpose=FilePurpose.AVATAR)

    async def delete_it() -> None:
        await delete(world, alice, view)

    world.images.meanwhile = delete_it
    assert not await make_thumbnail(world, view)
    assert await world.object_keys() == []
    assert (await record(world, view)).thumbnail_key is None


# CollectFileGarbage


async def garbage_scenario(world: FilesWorld) -> dict[str, str]:
    """Files of every kind collection meets, by name; two hours pass in the middle."""
    alice = await world.writer("alice")
    live = await world.upload(alice, png(), purpose=FilePurpose.AVATAR, name="live.png")
    assert await make_thumbnail(world, live)
    stale = await start(world, alice, png())
    await receive(world, stale, UploadBody(png()))
    deleted = await world.upload(alice, text(2000), name="deleted.txt")
    await delete(world, alice, deleted)
    await world.put_object(f"files/{deleted.id}", text(2000))  # its removal met an outage
    data = png()
    rejected = await start(world, alice, data)
    await world.put_object(f"files/{rejected.file.id}", data[:-1] + b"\x01")  # an S3 PUT
    with pytest.raises(UploadMismatchError):
        await complete(world, alice, rejected)
    await world.put_object(ORPHAN_OLD, b"0123456789")
    for foreign in NOT_PORTICOS:
        await world.put_object(foreign, b"someone else's")
    world.clock.advance(2 * HOUR)
    young = await start(world, alice, png(size=(8, 8)))
    await world.put_object(ORPHAN_YOUNG, b"young")
    return {
        "live": live.id,
        "stale": stale.file.id,
        "deleted": deleted.id,
        "rejected": rejected.file.id,
        "young": young.file.id,
    }


ORPHAN_OLD = "files/0000000a-0000-4000-8000-000000000000"
ORPHAN_YOUNG = "files/0000000b-0000-4000-8000-000000000000"
NOT_PORTICOS = ("backups/db.dump", "files/readme.txt", "thumbnails/0000000c.png")
"""Keys of another shape than Portico's: a shared bucket's, which collection leaves alone."""


async def statuses(world: FilesWorld, ids: Mapping[str, str]) -> dict[str, FileStatus | None]:
    found = {name: await world.record(FileId(UUID(value))) for name, value in ids.items()}
    return {name: None if stored is None else stored.status for name, stored in found.items()}


async def test_collection_removes_expired_uploads_discarded_files_and_old_orphans(
    world: FilesWorld,
) -> None:
    ids = await garbage_scenario(world)
    report = await collect(world)
    assert report == FileGarbageReport(
        expired_uploads=1, discarded_records=2, orphan_objects=1, orphan_bytes=10
    )
    assert await statuses(world, ids) == {
        "live": FileStatus.READY,
        "stale": None,
        "deleted": None,
        "rejected": None,
        "young": FileStatus.PENDING,
    }
    assert await world.object_keys() == sorted(
        [f"files/{ids['live']}", f"thumbnails/{ids['live']}.webp", ORPHAN_YOUNG, *NOT_PORTICOS]
    )
    again = await collect(world)
    assert again == FileGarbageReport(
        expired_uploads=0, discarded_records=0, orphan_objects=0, orphan_bytes=0
    )


async def test_an_upload_completed_between_the_stale_read_and_the_removal_stays(
    world: FilesWorld,
) -> None:
    alice = await world.writer("alice")
    data, abandoned_data = png(), png(size=(8, 8))
    direct = await start(world, alice, data)
    await receive(world, direct, UploadBody(data))
    abandoned = await start(world, alice, abandoned_data)
    await receive(world, abandoned, UploadBody(abandoned_data))
    world.clock.advance(2 * HOUR)
    files = CompletedWhileListed(world.database, completing=id_of(direct.file), clock=world.clock)
    world.files = files
    report = await collect(world)
    assert report == FileGarbageReport(
        expired_uploads=1, discarded_records=0, orphan_objects=0, orphan_bytes=0
    )
    assert (await record(world, direct.file)).status is FileStatus.READY
    assert await world.record(id_of(abandoned.file)) is None
    assert await world.object_keys() == [f"files/{direct.file.id}"]
    assert await world.object_bytes(f"files/{direct.file.id}") == data
    assert set(files.locked) >= {id_of(direct.file), id_of(abandoned.file)}, (
        "each stale record is read again under a lock before it goes"
    )


async def test_collection_clears_abandoned_uploads_after_the_orphans_with_the_orphan_grace(
    world: FilesWorld,
) -> None:
    storage = RecordingFileStorage(world.clock)
    world.storage = storage
    await garbage_scenario(world)
    storage.calls.clear()
    grace = timedelta(minutes=90)
    await world.collect_file_garbage()(
        CollectFileGarbageCommand(pending_ttl=HOUR, orphan_grace=grace)
    )
    assert storage.calls[-2:] == [
        ("delete", ORPHAN_OLD),
        ("remove_abandoned_uploads", grace),
    ]
    assert [call for call in storage.calls if call[0] == "remove_abandoned_uploads"] == [
        ("remove_abandoned_uploads", grace)
    ]


async def test_a_dry_run_leaves_abandoned_uploads_alone(world: FilesWorld) -> None:
    storage = RecordingFileStorage(world.clock)
    world.storage = storage
    await garbage_scenario(world)
    storage.calls.clear()
    await collect(world, dry_run=True)
    assert storage.calls == []


async def test_an_expired_upload_frees_the_quota_it_held(world: FilesWorld) -> None:
    alice = await world.writer("alice")
    await start(
        world,
        alice,
        text(300 * KIB),
        purpose=FilePurpose.ATTACHMENT,
        content_type=PLAIN_TEXT,
    )
    assert await bytes_in_use(world, alice) == 300 * KIB
    world.clock.advance(HOUR + timedelta(seconds=1))
    assert (await collect(world)).expired_uploads == 1
    assert await bytes_in_use(world, alice) == 0


async def test_a_dry_run_counts_what_would_go_and_changes_nothing(world: FilesWorld) -> None:
    ids = await garbage_scenario(world)
    keys, before = await world.object_keys(), await statuses(world, ids)
    outbox = len(world.database.outbox)
    report = await collect(world, dry_run=True)
    assert report == FileGarbageReport(
        expired_uploads=1, discarded_records=2, orphan_objects=1, orphan_bytes=10
    )
    assert await world.object_keys() == keys
    assert await statuses(world, ids) == before
    assert len(world.database.outbox) == outbox
    assert await collect(world) == report, "the dry run predicted the real one"


# FileUsageReport


def stored_file(
    owner: UserId,
    purpose: FilePurpose,
    status: FileStatus,
    *,
    number: int,
    backend: str,
    size: int = 100,
) -> StoredFile:
    """A record made directly, as another backend or an earlier release left it."""
    file_id = FileId(UUID(int=10_000 + number))
    created = datetime(2026, 1, 1, tzinfo=UTC)
    return StoredFile(
        id=file_id,
        owner_id=owner,
        purpose=purpose,
        name=FileName("x.png"),
        content_type=PNG,
        size=size,
        sha256=Sha256Digest(sha256_of(b"x")),
        storage_key=f"files/{file_id}",
        backend=backend,
        status=status,
        created_at=created,
        updated_at=created,
    )


async def add_records(world: FilesWorld, *records: StoredFile) -> None:
    async with world.uow() as uow:
        for stored in records:
            await world.files.add(stored)
        await uow.commit()


async def test_usage_is_counted_per_purpose_backend_and_status_in_that_order(
    world: FilesWorld,
) -> None:
    owner = (await world.writer("alice")).user_id
    await add_records(
        world,
        stored_file(owner, FilePurpose.ATTACHMENT, FileStatus.READY, number=1, backend="s3"),
        stored_file(
            owner, FilePurpose.ATTACHMENT, FileStatus.READY, number=2, backend="s3", size=50
        ),
        stored_file(owner, FilePurpose.ATTACHMENT, FileStatus.DELETED, number=3, backend="s3"),
        stored_file(owner, FilePurpose.ATTACHMENT, FileStatus.READY, number=4, backend="local"),
        stored_file(owner, FilePurpose.AVATAR, FileStatus.READY, number=5, backend="memory"),
        stored_file(
            owner, FilePurpose.ARTICLE_IMAGE, FileStatus.PENDING, number=6, backend="local"
        ),
    )
    usage = await world.file_usage_report()()
    assert [(row.purpose.value, row.backend, row.status.value) for row in usage] == [
        ("article_image", "local", "pending"),
        ("attachment", "local", "ready"),
        ("attachment", "s3", "deleted"),
        ("attachment", "s3", "ready"),
        ("avatar", "memory", "ready"),
    ]
    assert usage[3] == FileUsage(
        purpose=FilePurpose.ATTACHMENT,
        status=FileStatus.READY,
        backend="s3",
        count=2,
        total_bytes=150,
    )
