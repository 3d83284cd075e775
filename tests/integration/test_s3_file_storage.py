"""The S3 file storage against an S3-compatible server (moto, checking presigned URLs as S3 does).

What the contract suite (tests/contract/test_file_storage.py) cannot show on the other
backends: multipart uploads and their abort, presigned requests that S3 itself enforces,
and an unreachable or refusing service reported as an outage.
"""

import asyncio
import base64
import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from aiobotocore.session import get_session
from loguru import logger
from types_aiobotocore_s3.client import S3Client

from adapters.s3.file_storage import S3FileStorage
from application.common.errors import DependencyUnavailableError
from application.files.ports import ByteRange, ObjectMissingError
from domain.files.values import Sha256Digest
from tests.support.network import closed_port
from tests.support.s3_server import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
PART = 5 * MIB


class ClientGoneError(Exception):
    """The client went away in the middle of its upload."""


def s3_storage(
    endpoint: str, bucket: str, *, public_endpoint_url: str | None = None, max_attempts: int = 3
) -> S3FileStorage:
    return S3FileStorage(
        bucket=bucket,
        region=REGION,
        endpoint_url=endpoint,
        public_endpoint_url=public_endpoint_url,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
        part_size=PART,
        max_attempts=max_attempts,
    )


@pytest.fixture
def bucket() -> str:
    return f"portico-{uuid.uuid4().hex[:16]}"


@pytest.fixture
async def storage(s3_endpoint: str, bucket: str) -> AsyncIterator[S3FileStorage]:
    storage = s3_storage(s3_endpoint, bucket)
    await storage.ensure_bucket()
    yield storage
    await storage.close()


@pytest.fixture
async def raw_s3(s3_endpoint: str) -> AsyncIterator[S3Client]:
    """A plain client, to look at what the adapter does not show: ETags, multipart uploads."""
    async with get_session().create_client(
        "s3",
        region_name=REGION,
        endpoint_url=s3_endpoint,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    ) as client:
        yield client


async def chunks_of(data: bytes, size: int = MIB) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


async def failing_after(data: bytes, size: int = MIB) -> AsyncIterator[bytes]:
    async for chunk in chunks_of(data, size):
        yield chunk
    raise ClientGoneError


async def read_all(storage: S3FileStorage, key: str, byte_range: ByteRange | None = None) -> bytes:
    return b"".join([chunk async for chunk in storage.read(key, byte_range=byte_range)])


def sha256_of(data: bytes) -> Sha256Digest:
    return Sha256Digest(hashlib.sha256(data).hexdigest())


async def in_progress_uploads(raw_s3: S3Client, bucket: str) -> list[str]:
    listed = await raw_s3.list_multipart_uploads(Bucket=bucket)
    return [upload["Key"] for upload in listed.get("Uploads", [])]


async def test_a_small_object_is_one_put_and_reads_back(
    storage: S3FileStorage, raw_s3: S3Client, bucket: str
) -> None:
    data = os.urandom(PART - 1)

    stored = await storage.put("files/small", chunks_of(data), content_type="image/png")

    assert stored == len(data)
    assert await read_all(storage, "files/small") == data
    head = await raw_s3.head_object(Bucket=bucket, Key="files/small")
    assert "-" not in head["ETag"]
    assert head["ContentType"] == "image/png"


async def test_a_large_object_goes_up_in_parts_and_reads_back(
    storage: S3FileStorage, raw_s3: S3Client, bucket: str
) -> None:
    data = os.urandom(20 * MIB + 12_345)

    stored = await storage.put("files/large", chunks_of(data), content_type="application/zip")

    assert stored == len(data)
    read = await read_all(storage, "files/large")
    assert hashlib.sha256(read).digest() == hashlib.sha256(data).digest()
    head = await raw_s3.head_object(Bucket=bucket, Key="files/large")
    assert head["ETag"].strip('"').endswith("-5")
    assert head["ContentType"] == "application/zip"
    across_parts = ByteRange(PART - 10, 2 * PART + 10)
    assert await read_all(storage, "files/large", across_parts) == data[PART - 10 : 2 * PART + 11]
    assert await in_progress_uploads(raw_s3, bucket) == []


async def test_an_object_of_exactly_one_part_reads_back(storage: S3FileStorage) -> None:
    data = os.urandom(PART)

    assert await storage.put("files/one-part", chunks_of(data), content_type="text/plain") == PART
    assert await read_all(storage, "files/one-part") == data


async def test_chunks_that_raise_mid_upload_leave_no_object_and_no_parts(
    storage: S3FileStorage, raw_s3: S3Client, bucket: str
) -> None:
    with pytest.raises(ClientGoneError):
        await storage.put(
            "files/refused", failing_after(os.urandom(12 * MIB)), content_type="text/plain"
        )

    assert await storage.stat("files/refused") is None
    assert [found async for found in storage.objects()] == []
    assert await in_progress_uploads(raw_s3, bucket) == []


async def test_a_cancelled_upload_leaves_no_object_and_no_parts(
    storage: S3FileStorage, raw_s3: S3Client, bucket: str
) -> None:
    waiting = asyncio.Event()

    async def stalls_after_two_parts() -> AsyncIterator[bytes]:
        async for chunk in chunks_of(os.urandom(2 * PART + MIB)):
            yield chunk
        waiting.set()
        await asyncio.Event().wait()
        yield b"never"

    upload = asyncio.create_task(
        storage.put("files/cancelled", stalls_after_two_parts(), content_type="text/plain")
    )
    await asyncio.wait_for(waiting.wait(), timeout=30)
    assert await in_progress_uploads(raw_s3, bucket) == ["files/cancelled"]
    upload.cancel()

    with pytest.raises(asyncio.CancelledError):
        await upload

    assert await storage.stat("files/cancelled") is None
    assert await in_progress_uploads(raw_s3, bucket) == []


async def test_reading_a_missing_key_raises_before_any_bytes(storage: S3FileStorage) -> None:
    with pytest.raises(ObjectMissingError):
        await anext(storage.read("files/never-stored", byte_range=ByteRange(0, 9)))


async def test_a_range_starting_past_the_end_yields_nothing(storage: S3FileStorage) -> None:
    await storage.put("files/short", chunks_of(b"0123456789"), content_type="text/plain")

    assert await read_all(storage, "files/short", ByteRange(10, 20)) == b""


async def test_listing_goes_past_a_page(storage: S3FileStorage) -> None:
    keys = {f"files/{number:04}" for number in range(1_005)}
    await asyncio.gather(
        *(storage.put(key, chunks_of(b"x"), content_type="text/plain") for key in keys)
    )

    assert {found.key async for found in storage.objects("files/")} == keys


async def test_presigned_put_stores_exactly_the_announced_length_and_type(
    storage: S3FileStorage,
) -> None:
    body = os.urandom(1_000)
    request = await storage.presign_put(
        "files/direct",
        size=len(body),
        content_type="image/png",
        sha256=sha256_of(body),
        expires_in=timedelta(minutes=5),
    )
    assert request is not None
    assert request.method == "PUT"
    assert request.headers == {
        "Content-Length": "1000",
        "Content-Type": "image/png",
        "x-amz-checksum-sha256": base64.b64encode(hashlib.sha256(body).digest()).decode(),
    }
    checksum = {"x-amz-checksum-sha256": request.headers["x-amz-checksum-sha256"]}

    async with httpx.AsyncClient() as http:
        longer = await http.put(
            request.url, content=body + b"!", headers={"Content-Type": "image/png", **checksum}
        )
        shorter = await http.put(
            request.url, content=body[:-1], headers={"Content-Type": "image/png", **checksum}
        )
        other_type = await http.put(
            request.url, content=body, headers={"Content-Type": "text/html", **checksum}
        )
        assert (longer.status_code, shorter.status_code, other_type.status_code) == (403, 403, 403)
        assert await storage.stat("files/direct") is None

        right = await http.put(request.url, content=body, headers=dict(request.headers))

    assert right.status_code == 200
    assert await read_all(storage, "files/direct") == body


async def test_a_presigned_put_refuses_other_bytes_of_the_same_length(
    storage: S3FileStorage,
) -> None:
    """A URL still valid after the upload was checked cannot replace the checked bytes."""
    body = os.urandom(1_000)
    request = await storage.presign_put(
        "files/pinned",
        size=len(body),
        content_type="image/png",
        sha256=sha256_of(body),
        expires_in=timedelta(minutes=5),
    )
    assert request is not None

    async with httpx.AsyncClient() as http:
        before_upload = await http.put(
            request.url, content=os.urandom(len(body)), headers=dict(request.headers)
        )
        assert before_upload.status_code == 400
        assert b"<Code>BadDigest</Code>" in before_upload.content
        assert await storage.stat("files/pinned") is None

        uploaded = await http.put(request.url, content=body, headers=dict(request.headers))
        assert uploaded.status_code == 200
        replacing = await http.put(
            request.url, content=os.urandom(len(body)), headers=dict(request.headers)
        )

    assert replacing.status_code == 400
    assert b"<Code>BadDigest</Code>" in replacing.content
    assert await read_all(storage, "files/pinned") == body


async def test_a_presigned_put_without_its_checksum_header_is_refused(
    storage: S3FileStorage,
) -> None:
    body = os.urandom(1_000)
    request = await storage.presign_put(
        "files/unchecked",
        size=len(body),
        content_type="image/png",
        sha256=sha256_of(body),
        expires_in=timedelta(minutes=5),
    )
    assert request is not None
    without_checksum = {
        name: value
        for name, value in request.headers.items()
        if name.lower() != "x-amz-checksum-sha256"
    }

    async with httpx.AsyncClient() as http:
        response = await http.put(request.url, content=body, headers=without_checksum)

    assert response.status_code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in response.content
    assert await storage.stat("files/unchecked") is None


async def test_a_presigned_put_is_refused_once_expired(storage: S3FileStorage) -> None:
    before = datetime.now(UTC)
    request = await storage.presign_put(
        "files/late",
        size=5,
        content_type="text/plain",
        sha256=sha256_of(b"hello"),
        expires_in=timedelta(seconds=1),
    )
    assert request is not None
    assert before + timedelta(seconds=1) <= request.expires_at <= before + timedelta(seconds=2)

    await asyncio.sleep(2.1)
    async with httpx.AsyncClient() as http:
        late = await http.put(request.url, content=b"hello", headers=dict(request.headers))

    assert late.status_code == 403
    assert b"Request has expired" in late.content
    assert await storage.stat("files/late") is None


async def test_presigned_get_serves_the_bytes_as_an_attachment_of_the_given_type(
    storage: S3FileStorage,
) -> None:
    data = os.urandom(3_000)
    await storage.put("files/report", chunks_of(data), content_type="application/octet-stream")

    url = await storage.presign_get(
        "files/report",
        content_type="application/pdf",
        download_name='résumé "final"; v2.pdf',
        expires_in=timedelta(minutes=5),
    )
    assert url is not None
    async with httpx.AsyncClient() as http:
        response = await http.get(url)

    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == (
        "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22%3B%20v2.pdf"
    )


async def test_presigned_urls_are_signed_for_the_public_endpoint(
    s3_endpoint: str, bucket: str
) -> None:
    public = s3_endpoint.replace("127.0.0.1", "localhost")
    storage = s3_storage(s3_endpoint, bucket, public_endpoint_url=public)
    await storage.ensure_bucket()
    try:
        request = await storage.presign_put(
            "files/public",
            size=3,
            content_type="text/plain",
            sha256=sha256_of(b"abc"),
            expires_in=timedelta(minutes=1),
        )
        assert request is not None
        assert urlsplit(request.url).netloc == urlsplit(public).netloc
        async with httpx.AsyncClient() as http:
            stored = await http.put(request.url, content=b"abc", headers=dict(request.headers))
        assert stored.status_code == 200
        assert await read_all(storage, "files/public") == b"abc"
    finally:
        await storage.close()


async def test_remove_abandoned_uploads_aborts_only_the_old_ones(
    storage: S3FileStorage, raw_s3: S3Client, bucket: str
) -> None:
    # moto dates every multipart upload 2010-11-10, so "old" is measured against that day.
    await raw_s3.create_multipart_upload(Bucket=bucket, Key="files/abandoned")
    since_moto_dates_uploads = datetime.now(UTC) - datetime(2010, 11, 10, tzinfo=UTC)

    younger = await storage.remove_abandoned_uploads(since_moto_dates_uploads + timedelta(days=1))
    assert younger == 0
    assert await in_progress_uploads(raw_s3, bucket) == ["files/abandoned"]
    older = await storage.remove_abandoned_uploads(since_moto_dates_uploads - timedelta(days=1))
    assert older == 1
    assert await in_progress_uploads(raw_s3, bucket) == []


async def test_ensure_bucket_creates_it_once(s3_endpoint: str, bucket: str) -> None:
    storage = s3_storage(s3_endpoint, bucket)
    try:
        assert await storage.ensure_bucket() is True
        assert await storage.ensure_bucket() is False
    finally:
        await storage.close()


def test_parts_below_s3s_minimum_are_refused() -> None:
    with pytest.raises(ValueError, match="part_size"):
        S3FileStorage(bucket="portico", part_size=PART - 1)


async def _put(storage: S3FileStorage) -> object:
    return await storage.put("files/x", chunks_of(b"bytes"), content_type="text/plain")


async def _read(storage: S3FileStorage) -> object:
    return await read_all(storage, "files/x")


async def _list(storage: S3FileStorage) -> object:
    return [found async for found in storage.objects()]


OPERATIONS: dict[str, Callable[[S3FileStorage], Awaitable[object]]] = {
    "put": _put,
    "read": _read,
    "stat": lambda storage: storage.stat("files/x"),
    "delete": lambda storage: storage.delete("files/x"),
    "objects": _list,
    "remove_abandoned_uploads": lambda storage: storage.remove_abandoned_uploads(timedelta(0)),
    "ensure_bucket": lambda storage: storage.ensure_bucket(),
}


@pytest.fixture
def warnings_logged() -> Iterator[list[str]]:
    captured: list[str] = []
    sink = logger.add(lambda message: captured.append(message.record["message"]), level="WARNING")
    yield captured
    logger.remove(sink)


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_an_unreachable_service_is_an_outage_not_a_crash(
    operation: str, warnings_logged: list[str]
) -> None:
    storage = s3_storage(f"http://127.0.0.1:{closed_port()}", "portico", max_attempts=1)
    try:
        for _ in range(2):
            with pytest.raises(DependencyUnavailableError) as raised:
                await OPERATIONS[operation](storage)
            assert raised.value.field == "file_storage"
    finally:
        await storage.close()

    assert [line for line in warnings_logged if "file storage unavailable" in line] == [
        warnings_logged[0]
    ]


REFUSED_OPERATIONS = [name for name in OPERATIONS if name != "ensure_bucket"]
"""What a missing bucket refuses; `ensure_bucket` would make it."""


@pytest.fixture
def errors_logged() -> Iterator[list[str]]:
    captured: list[str] = []
    sink = logger.add(lambda message: captured.append(message.record["message"]), level="ERROR")
    yield captured
    logger.remove(sink)


@pytest.mark.parametrize("operation", REFUSED_OPERATIONS)
async def test_a_missing_bucket_is_an_outage_logged_once_at_error(
    operation: str, s3_endpoint: str, bucket: str, errors_logged: list[str]
) -> None:
    storage = s3_storage(s3_endpoint, bucket)
    try:
        for _ in range(2):
            with pytest.raises(DependencyUnavailableError) as raised:
                await OPERATIONS[operation](storage)
            assert raised.value.field == "file_storage"
            assert str(raised.value) == "is unavailable; try again shortly"
    finally:
        await storage.close()

    (logged,) = errors_logged
    assert bucket in logged
    assert "check S3_BUCKET and the credentials" in logged


async def test_the_refusal_ends_when_the_bucket_appears(
    s3_endpoint: str, bucket: str, errors_logged: list[str]
) -> None:
    infos: list[str] = []
    sink = logger.add(lambda message: infos.append(message.record["message"]), level="INFO")
    storage = s3_storage(s3_endpoint, bucket)
    try:
        with pytest.raises(DependencyUnavailableError):
            await _put(storage)
        await storage.ensure_bucket()
        await _put(storage)
        assert await read_all(storage, "files/x") == b"bytes"
    finally:
        logger.remove(sink)
        await storage.close()

    assert len(errors_logged) == 1
    assert "NoSuchBucket" in errors_logged[0]
    assert [line for line in infos if "file storage available again" in line] != []


async def test_a_missing_object_keeps_its_meaning_beside_a_refusal(
    storage: S3FileStorage, errors_logged: list[str]
) -> None:
    with pytest.raises(ObjectMissingError):
        await read_all(storage, "files/never-stored")
    assert await storage.stat("files/never-stored") is None
    assert await storage.delete("files/never-stored") is False
    assert errors_logged == []


async def test_presigning_for_a_missing_bucket_sends_nothing_and_cannot_fail(
    s3_endpoint: str, bucket: str, errors_logged: list[str]
) -> None:
    """S3 refuses the presigned request to the client that makes it, not to the API."""
    storage = s3_storage(s3_endpoint, bucket)
    try:
        upload = await storage.presign_put(
            "files/x",
            size=1,
            content_type="text/plain",
            sha256=sha256_of(b"x"),
            expires_in=timedelta(minutes=1),
        )
        download = await storage.presign_get(
            "files/x",
            content_type="text/plain",
            download_name="x.txt",
            expires_in=timedelta(minutes=1),
        )
    finally:
        await storage.close()

    assert upload is not None
    assert download is not None
    assert errors_logged == []


async def test_retries_end_in_an_outage_too() -> None:
    storage = s3_storage(f"http://127.0.0.1:{closed_port()}", "portico", max_attempts=2)
    try:
        with pytest.raises(DependencyUnavailableError):
            await storage.stat("files/x")
    finally:
        await storage.close()


async def test_presigning_needs_no_connection() -> None:
    storage = s3_storage(f"http://127.0.0.1:{closed_port()}", "portico")
    try:
        request = await storage.presign_put(
            "files/x",
            size=1,
            content_type="text/plain",
            sha256=sha256_of(b"x"),
            expires_in=timedelta(minutes=1),
        )
    finally:
        await storage.close()

    assert request is not None
