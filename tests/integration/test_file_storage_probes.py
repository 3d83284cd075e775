"""The file storage's readiness probes, for each backend, and which one a container wires."""

import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from adapters.filesystem.health import LocalStorageProbe
from adapters.s3.file_storage import S3FileStorage
from adapters.s3.health import S3StorageProbe
from application.health.check_readiness import CheckReadiness, CheckReadinessCommand
from application.health.ports import HealthProbe
from entrypoints.config import load_settings
from entrypoints.ioc import make_container
from tests.support.network import closed_port
from tests.support.s3_server import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY

UNREACHABLE_DATABASE = "postgresql://nobody@127.0.0.1:1/none"


def s3_probe(endpoint: str, bucket: str) -> S3StorageProbe:
    return S3StorageProbe(
        bucket=bucket,
        region=REGION,
        endpoint_url=endpoint,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
        timeout_seconds=1,
    )


def names_in(directory: Path) -> list[str]:
    return [path.name for path in directory.iterdir()]


@pytest.fixture
async def existing_bucket(s3_endpoint: str) -> str:
    bucket = f"probed-{uuid.uuid4().hex[:16]}"
    storage = S3FileStorage(
        bucket=bucket,
        region=REGION,
        endpoint_url=s3_endpoint,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
    )
    await storage.ensure_bucket()
    await storage.close()
    return bucket


async def test_the_local_probe_answers_on_a_writable_directory(tmp_path: Path) -> None:
    await LocalStorageProbe(tmp_path).check()

    assert names_in(tmp_path) == []


async def test_the_local_probe_raises_when_the_directory_is_a_file(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "uploads"
    not_a_directory.write_bytes(b"")

    with pytest.raises(FileExistsError):
        await LocalStorageProbe(not_a_directory).check()


async def test_the_local_probe_makes_a_missing_directory_as_the_storage_does(
    tmp_path: Path,
) -> None:
    await LocalStorageProbe(tmp_path / "uploads" / "files").check()

    assert names_in(tmp_path / "uploads" / "files") == []
    assert (tmp_path / "uploads" / "files").stat().st_mode & 0o777 == 0o700


async def test_the_local_probe_raises_when_a_parent_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "uploads").write_bytes(b"")

    with pytest.raises(NotADirectoryError):
        await LocalStorageProbe(tmp_path / "uploads" / "files").check()


@pytest.mark.integration
async def test_the_s3_probe_answers_when_the_bucket_is_there(
    s3_endpoint: str, existing_bucket: str
) -> None:
    probe = s3_probe(s3_endpoint, existing_bucket)
    try:
        await probe.check()
        await probe.check()
    finally:
        await probe.close()


@pytest.mark.integration
async def test_the_s3_probe_raises_when_the_bucket_is_missing(s3_endpoint: str) -> None:
    probe = s3_probe(s3_endpoint, f"missing-{uuid.uuid4().hex[:16]}")
    try:
        with pytest.raises(ClientError):
            await probe.check()
    finally:
        await probe.close()


async def test_the_s3_probe_raises_when_nothing_listens() -> None:
    probe = s3_probe(f"http://127.0.0.1:{closed_port()}", "portico")
    try:
        with pytest.raises(BotocoreConnectionError):
            await probe.check()
    finally:
        await probe.close()


async def file_storage_probes(environment: dict[str, str]) -> tuple[Sequence[HealthProbe], bool]:
    """The container's file storage probes, and whether readiness found file storage up."""
    settings = load_settings({"DATABASE_URL": UNREACHABLE_DATABASE, **environment}, env_file=None)
    container = make_container(settings)
    try:
        probes = [
            probe
            for probe in await container.get(Sequence[HealthProbe])
            if probe.dependency == "file_storage"
        ]
        report = await CheckReadiness(probes)(CheckReadinessCommand(timeout_seconds=2))
    finally:
        await container.close()
    return probes, report.ready


async def test_a_local_backend_is_probed_by_writing_in_its_directory(tmp_path: Path) -> None:
    """A fresh process is ready before any file request made the storage and its directory."""
    probes, ready = await file_storage_probes(
        {"DATA_DIR": str(tmp_path), "STORAGE_BACKEND": "local"}
    )

    assert [type(probe) for probe in probes] == [LocalStorageProbe]
    assert ready
    assert (tmp_path / "uploads").is_dir()


async def test_a_local_backend_under_a_file_is_reported_down(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "uploads"
    not_a_directory.write_bytes(b"")

    probes, ready = await file_storage_probes(
        {"DATA_DIR": str(tmp_path), "STORAGE_LOCAL_DIR": str(not_a_directory / "files")}
    )

    assert [type(probe) for probe in probes] == [LocalStorageProbe]
    assert not ready


@pytest.mark.integration
async def test_an_s3_backend_is_probed_with_head_bucket(
    s3_endpoint: str, existing_bucket: str, tmp_path: Path
) -> None:
    s3 = {
        "DATA_DIR": str(tmp_path),
        "STORAGE_BACKEND": "s3",
        "S3_ENDPOINT_URL": s3_endpoint,
        "S3_REGION": REGION,
        "S3_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "S3_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
    }

    probes, ready = await file_storage_probes({**s3, "S3_BUCKET": existing_bucket})
    assert [type(probe) for probe in probes] == [S3StorageProbe]
    assert ready

    _, ready = await file_storage_probes({**s3, "S3_BUCKET": f"missing-{uuid.uuid4().hex[:16]}"})
    assert not ready
    assert names_in(tmp_path) == []
