"""The `FileStorage` contract, on every backend: memory, a local directory and S3."""

import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.filesystem.file_storage import LocalFileStorage
from adapters.memory.file_storage import InMemoryFileStorage
from adapters.memory.system import ManualClock
from adapters.s3.file_storage import S3FileStorage
from application.files.ports import ByteRange, FileStorage, ObjectMissingError
from domain.files.values import Sha256Digest
from tests.support import s3_server

MIB = 1024 * 1024
BACKENDS_WITHOUT_PRESIGNING = frozenset({"memory", "local"})
"""The backends the port names as having no presigned requests: the API carries the bytes."""
CLOCK_SLACK = timedelta(seconds=2)
"""How far a backend's modification time may stray: file systems and S3 round it."""


class ClientGoneError(Exception):
    """The client went away in the middle of its upload."""


@pytest.fixture(params=["memory", "local", pytest.param("s3", marks=pytest.mark.integration)])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[FileStorage]:
    if request.param == "memory":
        yield InMemoryFileStorage()
    elif request.param == "local":
        yield LocalFileStorage(tmp_path / "storage")
    elif request.param == "s3":
        s3_storage = S3FileStorage(
            bucket=f"contract-{uuid.uuid4().hex[:16]}",
            region=s3_server.REGION,
            endpoint_url=request.getfixturevalue("s3_endpoint"),
            access_key_id=s3_server.ACCESS_KEY_ID,
            secret_access_key=s3_server.SECRET_ACCESS_KEY,
        )
        await s3_storage.ensure_bucket()
        yield s3_storage
        await s3_storage.close()
    else:
        pytest.fail(f"no storage set up for the {request.param!r} backend")


async def chunks_of(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def failing_after(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
    raise ClientGoneError


async def read_all(storage: FileStorage, key: str, byte_range: ByteRange | None = None) -> bytes:
    return b"".join([chunk async for chunk in storage.read(key, byte_range=byte_range)])


async def keys_under(storage: FileStorage, prefix: str = "") -> set[str]:
    return {found.key async for found in storage.objects(prefix)}


def split(data: bytes, size: int) -> list[bytes]:
    return [data[offset : offset + size] for offset in range(0, len(data), size)]


async def test_put_of_many_chunks_reads_back_whole(storage: FileStorage) -> None:
    parts = [b"first", b"", os.urandom(70_000), b"\x00" * 3, os.urandom(300_001), b"last"]

    stored = await storage.put("files/many", chunks_of(*parts), content_type="text/plain")

    assert stored == sum(len(part) for part in parts)
    assert await read_all(storage, "files/many") == b"".join(parts)


async def test_a_large_object_reads_back_whole(storage: FileStorage) -> None:
    data = os.urandom(5 * MIB + 17)

    stored = await storage.put(
        "files/large", chunks_of(*split(data, 100_003)), content_type="application/zip"
    )

    assert stored == len(data)
    read = await read_all(storage, "files/large")
    assert hashlib.sha256(read).digest() == hashlib.sha256(data).digest()
    found = await storage.stat("files/large")
    assert found is not None
    assert found.size == len(data)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        pytest.param(0, 0, id="first-byte"),
        pytest.param(0, 9, id="start"),
        pytest.param(200_000, 700_000, id="middle-across-chunks"),
        pytest.param(999_990, 999_999, id="exact-end"),
        pytest.param(999_990, 5_000_000, id="end-past-the-object"),
        pytest.param(999_999, 999_999, id="last-byte"),
    ],
)
async def test_read_of_a_byte_range_yields_just_those_bytes(
    storage: FileStorage, start: int, end: int
) -> None:
    data = os.urandom(1_000_000)
    await storage.put("files/ranged", chunks_of(*split(data, 65_536)), content_type="image/png")

    read = await read_all(storage, "files/ranged", ByteRange(start, end))

    assert read == data[start : end + 1]


@pytest.mark.parametrize("byte_range", [None, ByteRange(0, 9)])
async def test_reading_a_missing_key_raises_before_any_bytes(
    storage: FileStorage, byte_range: ByteRange | None
) -> None:
    chunks = storage.read("files/never-stored", byte_range=byte_range)

    with pytest.raises(ObjectMissingError):
        await anext(chunks)


async def test_reading_a_deleted_object_raises_before_any_bytes(storage: FileStorage) -> None:
    await storage.put("files/gone", chunks_of(b"bytes"), content_type="text/plain")
    await storage.delete("files/gone")

    with pytest.raises(ObjectMissingError):
        await anext(storage.read("files/gone"))


async def test_put_replaces_the_object_under_the_key(storage: FileStorage) -> None:
    await storage.put("files/replaced", chunks_of(b"old bytes, longer"), content_type="text/plain")

    stored = await storage.put("files/replaced", chunks_of(b"new", b"!"), content_type="text/plain")

    assert stored == 4
    assert await read_all(storage, "files/replaced") == b"new!"
    found = await storage.stat("files/replaced")
    assert found is not None
    assert found.size == 4
    assert await keys_under(storage) == {"files/replaced"}


async def test_chunks_that_raise_store_nothing_and_the_error_propagates(
    storage: FileStorage,
) -> None:
    with pytest.raises(ClientGoneError):
        await storage.put(
            "files/refused", failing_after(b"x" * MIB, b"y" * MIB), content_type="text/plain"
        )

    assert await storage.stat("files/refused") is None
    assert await keys_under(storage) == set()
    with pytest.raises(ObjectMissingError):
        await anext(storage.read("files/refused"))


async def test_chunks_that_raise_leave_the_previous_object_intact(storage: FileStorage) -> None:
    previous = os.urandom(300_000)
    await storage.put("files/kept", chunks_of(previous), content_type="text/plain")

    with pytest.raises(ClientGoneError):
        await storage.put(
            "files/kept", failing_after(b"x" * MIB, b"y" * MIB), content_type="text/plain"
        )

    assert await read_all(storage, "files/kept") == previous
    found = await storage.stat("files/kept")
    assert found is not None
    assert found.size == len(previous)
    assert await keys_under(storage) == {"files/kept"}


async def test_chunks_that_raise_before_the_first_byte_store_nothing(
    storage: FileStorage,
) -> None:
    with pytest.raises(ClientGoneError):
        await storage.put("files/refused", failing_after(), content_type="text/plain")

    assert await storage.stat("files/refused") is None


async def test_delete_removes_the_object_once(storage: FileStorage) -> None:
    await storage.put("files/deleted", chunks_of(b"bytes"), content_type="text/plain")
    await storage.put("files/other", chunks_of(b"bytes"), content_type="text/plain")

    assert await storage.delete("files/deleted") is True
    assert await storage.delete("files/deleted") is False
    assert await storage.stat("files/deleted") is None
    assert await keys_under(storage) == {"files/other"}


async def test_deleting_a_key_never_stored_is_false(storage: FileStorage) -> None:
    assert await storage.delete("files/never-stored") is False


async def test_stat_tells_the_key_size_and_when_it_was_stored(storage: FileStorage) -> None:
    before = datetime.now(UTC)
    await storage.put("thumbnails/a.webp", chunks_of(b"12345", b"678"), content_type="image/webp")
    after = datetime.now(UTC)

    found = await storage.stat("thumbnails/a.webp")

    assert found is not None
    assert found.key == "thumbnails/a.webp"
    assert found.size == 8
    assert found.modified_at.utcoffset() == timedelta(0)
    assert before - CLOCK_SLACK <= found.modified_at <= after + CLOCK_SLACK


async def test_stat_of_a_key_never_stored_is_none(storage: FileStorage) -> None:
    await storage.put("files/a", chunks_of(b"bytes"), content_type="text/plain")

    assert await storage.stat("files/never-stored") is None
    assert await storage.stat("never-stored") is None


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        pytest.param(
            "", {"files/a", "files/b", "files/deep/c", "filesystem/x", "thumbs.webp"}, id="all"
        ),
        pytest.param("files/", {"files/a", "files/b", "files/deep/c"}, id="directory"),
        pytest.param("files", {"files/a", "files/b", "files/deep/c", "filesystem/x"}, id="string"),
        pytest.param("files/deep/", {"files/deep/c"}, id="deeper"),
        pytest.param("files/a", {"files/a"}, id="a-whole-key"),
        pytest.param("thumbs", {"thumbs.webp"}, id="a-top-level-key"),
        pytest.param("nothing/", set(), id="nothing-there"),
    ],
)
async def test_objects_lists_exactly_the_keys_under_a_prefix(
    storage: FileStorage, prefix: str, expected: set[str]
) -> None:
    for key in ["files/a", "files/b", "files/deep/c", "filesystem/x", "thumbs.webp"]:
        await storage.put(key, chunks_of(key.encode()), content_type="text/plain")

    assert await keys_under(storage, prefix) == expected


async def test_objects_tells_each_object_size_and_modification_time(storage: FileStorage) -> None:
    before = datetime.now(UTC)
    await storage.put("files/small", chunks_of(b"12"), content_type="text/plain")
    await storage.put("files/big", chunks_of(b"x" * MIB, b"y"), content_type="text/plain")
    after = datetime.now(UTC)

    listed = {found.key: found async for found in storage.objects("files/")}

    assert {key: found.size for key, found in listed.items()} == {
        "files/small": 2,
        "files/big": MIB + 1,
    }
    for found in listed.values():
        assert before - CLOCK_SLACK <= found.modified_at <= after + CLOCK_SLACK


async def test_presigned_requests_are_offered_both_ways_or_neither(storage: FileStorage) -> None:
    expires_in = timedelta(minutes=5)
    before = datetime.now(UTC)

    upload = await storage.presign_put(
        "files/direct",
        size=12,
        content_type="image/png",
        sha256=Sha256Digest(hashlib.sha256(b"twelve bytes").hexdigest()),
        expires_in=expires_in,
    )
    download = await storage.presign_get(
        "files/direct", content_type="image/png", download_name="a.png", expires_in=expires_in
    )

    assert (upload is None) == (download is None)
    if storage.backend in BACKENDS_WITHOUT_PRESIGNING:
        assert upload is None
        return
    assert upload is not None
    assert download is not None
    assert upload.method == "PUT"
    assert upload.url.startswith(("http://", "https://"))
    assert download.startswith(("http://", "https://"))
    assert before < upload.expires_at <= datetime.now(UTC) + expires_in + CLOCK_SLACK


async def test_memory_modification_times_come_from_the_clock() -> None:
    clock = ManualClock()
    storage = InMemoryFileStorage(clock)
    await storage.put("files/a", chunks_of(b"first"), content_type="text/plain")
    clock.advance(timedelta(minutes=3))
    await storage.put("files/b", chunks_of(b"second"), content_type="text/plain")

    stored_at = {found.key: found.modified_at async for found in storage.objects()}

    assert stored_at == {"files/a": clock.now() - timedelta(minutes=3), "files/b": clock.now()}
