"""The local directory beyond the contract: parts, cancellation, a killed writer, keys, modes."""

import asyncio
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.filesystem.file_storage import PART_SUFFIX, LocalFileStorage
from application.common.errors import DependencyUnavailableError
from application.files.ports import FILE_STORAGE, ObjectMissingError

MIB = 1024 * 1024

KILLED_WRITER = """
import asyncio
import sys
from pathlib import Path

from adapters.filesystem.file_storage import LocalFileStorage


async def endless():
    while True:
        yield b"x" * 65536
        await asyncio.sleep(0.001)


asyncio.run(LocalFileStorage(Path(sys.argv[1])).put("files/x", endless(), content_type="x/y"))
"""
"""A process that puts a slow stream that never ends under ``files/x``, until it is killed."""


class ClientGoneError(Exception):
    """The client went away in the middle of its upload."""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "uploads"


@pytest.fixture
def storage(root: Path) -> LocalFileStorage:
    return LocalFileStorage(root)


async def chunks_of(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def read_all(storage: LocalFileStorage, key: str) -> bytes:
    return b"".join([chunk async for chunk in storage.read(key)])


def files_under(root: Path) -> list[str]:
    """Every file below `root`, hidden ones too, as paths relative to it."""
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if not path.is_dir())


def parts_under(root: Path) -> list[Path]:
    return [path for path in root.rglob(f".*{PART_SUFFIX}") if path.is_file()]


def descriptors_open_under(root: Path) -> list[str]:
    """What this process holds open below `root`, from /proc."""
    held = []
    for descriptor in Path("/proc/self/fd").iterdir():
        try:
            target = str(descriptor.readlink())
        except FileNotFoundError:
            continue
        if target.startswith(str(root.resolve())):
            held.append(target)
    return held


async def test_a_put_whose_chunks_raise_leaves_no_part(
    storage: LocalFileStorage, root: Path
) -> None:
    await storage.put("files/kept", chunks_of(b"previous"), content_type="text/plain")

    async def refused() -> AsyncIterator[bytes]:
        yield os.urandom(3 * MIB)
        raise ClientGoneError

    with pytest.raises(ClientGoneError):
        await storage.put("files/kept", refused(), content_type="text/plain")
    with pytest.raises(ClientGoneError):
        await storage.put("files/new", refused(), content_type="text/plain")

    assert files_under(root) == ["files/kept"]
    assert await read_all(storage, "files/kept") == b"previous"
    assert descriptors_open_under(root) == []


async def test_a_put_cancelled_while_waiting_for_chunks_leaves_nothing(
    storage: LocalFileStorage, root: Path
) -> None:
    waiting = asyncio.Event()

    async def stalled() -> AsyncIterator[bytes]:
        yield os.urandom(2 * MIB)
        waiting.set()
        await asyncio.Event().wait()
        yield b"never"

    put = asyncio.create_task(storage.put("files/stalled", stalled(), content_type="text/plain"))
    await asyncio.wait_for(waiting.wait(), timeout=10)
    assert len(parts_under(root)) == 1
    assert [found async for found in storage.objects()] == []
    put.cancel()

    with pytest.raises(asyncio.CancelledError):
        await put
    assert files_under(root) == []
    assert await storage.stat("files/stalled") is None
    assert descriptors_open_under(root) == []


@pytest.mark.parametrize("delay", [0, 0.0005, 0.002, 0.005, 0.01, 0.03])
async def test_a_put_cancelled_at_any_moment_of_a_fast_stream_leaves_nothing(
    storage: LocalFileStorage, root: Path, delay: float
) -> None:
    await storage.put("files/x", chunks_of(b"previous"), content_type="text/plain")
    chunk = os.urandom(256 * 1024)

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield chunk

    put = asyncio.create_task(storage.put("files/x", endless(), content_type="text/plain"))
    await asyncio.sleep(delay)
    put.cancel()

    with pytest.raises(asyncio.CancelledError):
        await put
    assert files_under(root) == ["files/x"]
    assert await read_all(storage, "files/x") == b"previous"
    assert descriptors_open_under(root) == []


async def test_a_process_killed_mid_put_leaves_the_old_object_and_a_part_to_collect(
    storage: LocalFileStorage, root: Path, project_root: Path
) -> None:
    await storage.put("files/x", chunks_of(b"previous"), content_type="text/plain")
    environment = {**os.environ, "PYTHONPATH": str(project_root / "src")}
    with subprocess.Popen(  # noqa: ASYNC220 - killed with SIGKILL, on purpose
        [sys.executable, "-c", KILLED_WRITER, str(root)], env=environment
    ) as writer:
        try:
            async with asyncio.timeout(30):
                while not any(part.stat().st_size >= MIB for part in parts_under(root)):
                    assert writer.poll() is None, "the writer died before it was killed"
                    await asyncio.sleep(0.02)
        finally:
            writer.send_signal(signal.SIGKILL)
        assert writer.wait(timeout=10) == -signal.SIGKILL

    assert await storage.stat("files/x") is not None
    assert await read_all(storage, "files/x") == b"previous"
    assert [found.key async for found in storage.objects()] == ["files/x"]
    [part] = parts_under(root)
    assert await storage.remove_abandoned_uploads(timedelta(hours=1)) == 0
    two_hours_ago = time.time() - 2 * 3600
    os.utime(part, (two_hours_ago, two_hours_ago))
    assert await storage.remove_abandoned_uploads(timedelta(hours=1)) == 1
    assert files_under(root) == ["files/x"]


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/",
        "/etc/passwd",
        "../outside",
        "files/../../outside",
        "files/./x",
        "files//x",
        "files/",
        ".",
        "..",
        ".hidden",
        "files/.x.abcdefgh.part",
        "files\\x",
        "files/x y",
        "files/ä",
        "files/x\x00",
        "files/x\n",
    ],
)
async def test_a_key_that_is_not_one_is_refused_before_the_disk_is_touched(
    storage: LocalFileStorage, root: Path, key: str
) -> None:
    with pytest.raises(ValueError, match="storage key"):
        await storage.put(key, chunks_of(b"bytes"), content_type="text/plain")
    with pytest.raises(ValueError, match="storage key"):
        storage.read(key)
    with pytest.raises(ValueError, match="storage key"):
        await storage.stat(key)
    with pytest.raises(ValueError, match="storage key"):
        await storage.delete(key)
    assert list(root.parent.rglob("*")) == [root]


async def test_a_key_through_a_link_out_of_the_directory_is_refused(
    storage: LocalFileStorage, root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "files").symlink_to(outside)

    with pytest.raises(ValueError, match="leads out of the storage directory"):
        await storage.put("files/x", chunks_of(b"bytes"), content_type="text/plain")
    with pytest.raises(ValueError, match="leads out of the storage directory"):
        storage.objects("files/")
    assert list(outside.iterdir()) == []


async def test_a_prefix_that_is_not_one_is_refused(storage: LocalFileStorage) -> None:
    with pytest.raises(ValueError, match="storage key"):
        storage.objects("../")


async def test_objects_lists_no_part_and_no_file_it_did_not_store(
    storage: LocalFileStorage, root: Path
) -> None:
    await storage.put("files/x", chunks_of(b"bytes"), content_type="text/plain")
    (root / "files" / f".x.abcdefgh{PART_SUFFIX}").write_bytes(b"part")
    (root / "lost+found").mkdir()
    (root / "lost+found" / "inode").write_bytes(b"debris")
    (root / "files" / "link").symlink_to(root / "files" / "x")

    assert [found.key async for found in storage.objects()] == ["files/x"]


async def test_a_directory_is_not_an_object(storage: LocalFileStorage) -> None:
    await storage.put("files/x", chunks_of(b"bytes"), content_type="text/plain")

    assert await storage.stat("files") is None
    assert await storage.delete("files") is False
    with pytest.raises(ObjectMissingError):
        await anext(storage.read("files"))
    with pytest.raises(ObjectMissingError):
        await anext(storage.read("files/x/y"))
    assert await read_all(storage, "files/x") == b"bytes"


async def test_the_directory_and_its_files_are_private(tmp_path: Path) -> None:
    root = tmp_path / "not" / "yet" / "there"
    storage = LocalFileStorage(root)

    await storage.put("files/deep/x", chunks_of(b"bytes"), content_type="text/plain")

    for directory in [root, root / "files", root / "files" / "deep"]:
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((root / "files" / "deep" / "x").stat().st_mode) == 0o600


async def test_a_read_goes_on_from_the_file_it_opened(storage: LocalFileStorage) -> None:
    first = os.urandom(2 * MIB)
    await storage.put("files/x", chunks_of(first), content_type="text/plain")
    chunks = storage.read("files/x")
    head = await anext(chunks)

    await storage.put("files/x", chunks_of(b"replaced"), content_type="text/plain")
    rest = b"".join([chunk async for chunk in chunks])

    assert head + rest == first
    assert await read_all(storage, "files/x") == b"replaced"


async def test_a_read_yields_chunks_of_the_configured_size(root: Path) -> None:
    storage = LocalFileStorage(root, chunk_size=1000)
    await storage.put("files/x", chunks_of(os.urandom(4500)), content_type="text/plain")

    sizes = [len(chunk) async for chunk in storage.read("files/x")]

    assert sizes == [1000, 1000, 1000, 1000, 500]


async def test_a_read_left_midway_closes_its_file(storage: LocalFileStorage, root: Path) -> None:
    await storage.put("files/x", chunks_of(os.urandom(2 * MIB)), content_type="text/plain")
    chunks = storage.read("files/x")
    assert isinstance(chunks, AsyncGenerator)
    await anext(chunks)
    assert len(descriptors_open_under(root)) == 1

    await chunks.aclose()

    assert descriptors_open_under(root) == []


def test_the_chunk_size_must_be_positive(root: Path) -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        LocalFileStorage(root, chunk_size=0)


def test_the_backend_is_named_local(storage: LocalFileStorage) -> None:
    assert storage.backend == "local"


async def test_a_disk_that_fails_is_a_503_not_a_500(tmp_path: Path) -> None:
    root = tmp_path / "store"
    storage = LocalFileStorage(root)
    (root / "files").write_bytes(b"a file where a directory must be")

    async def body() -> AsyncIterator[bytes]:
        yield b"bytes"

    with pytest.raises(DependencyUnavailableError) as refused:
        await storage.put("files/a", body(), content_type="text/plain")
    assert refused.value.field == FILE_STORAGE
