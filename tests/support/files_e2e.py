"""What the files e2e tests look at beside HTTP: raw uploads, the rows, the stored objects.

- `Uploader` is a registered user of a running server and the uploads they make.
- `RawUpload` sends an upload through a plain socket: headers and as much of the body as
  a test wants, so it can stop mid-body, or send no body at all.
- `FileRows` reads the ``files`` table, which no route shows whole (pending, rejected and
  deleted rows included).
- `local_objects` / `part_files` list what a `local` storage directory holds;
  `s3_object_keys` what a bucket holds; `webp_chunks` the chunks of a WebP file.
"""

import asyncio
import http.client
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import sqlalchemy as sa

from adapters.s3.file_storage import S3FileStorage
from adapters.sqlalchemy.engine import to_psycopg_url
from tests.support.s3_server import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY

T = TypeVar("T")
PASSWORD = "password123"
PART_GLOB = ".*.part"
"""The name `LocalFileStorage` gives the temporary file of a put: hidden, beside the key."""


@dataclass
class Uploader:
    """A registered user and the headers that make requests theirs."""

    name: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}

    @classmethod
    def register(cls, api: httpx.Client) -> "Uploader":
        name = f"f{uuid.uuid4().hex[:12]}"
        body = {"user": {"username": name, "email": f"{name}@test.com", "password": PASSWORD}}
        registered = api.post("/api/users", json=body)
        assert registered.status_code == 201, registered.text
        return cls(name=name, token=registered.json()["user"]["token"])

    def upload(
        self,
        api: httpx.Client,
        data: bytes,
        *,
        purpose: str = "attachment",
        name: str = "upload.bin",
        content_type: str = "application/octet-stream",
    ) -> httpx.Response:
        """POST the bytes as the raw body, purpose and name in the query."""
        return api.post(
            "/api/files",
            params={"purpose": purpose, "name": name},
            content=data,
            headers={**self.headers, "Content-Type": content_type},
        )

    def uploaded(self, api: httpx.Client, data: bytes, **options: Any) -> dict[str, Any]:
        """The file of an upload that must succeed."""
        response = self.upload(api, data, **options)
        assert response.status_code == 201, response.text
        file: dict[str, Any] = response.json()["file"]
        return file


def wait_for(
    probe: Callable[[], T], until: Callable[[T], bool], *, within: float = 8.0, every: float = 0.1
) -> T:
    """Call `probe` until its result passes `until`; that result, or the last one after `within`."""
    deadline = time.monotonic() + within
    while True:
        result = probe()
        if until(result) or time.monotonic() > deadline:
            return result
        time.sleep(every)


class RawUpload:
    """An upload request written to a socket by hand.

    `send_head` announces a `declared` body; `send` writes some of it; `response` reads the
    server's answer; `close` goes away, as a client that disconnects does.
    """

    def __init__(self, base_url: str, path_and_query: str, headers: dict[str, str]) -> None:
        host, port = base_url.removeprefix("http://").split(":")
        self._sock = socket.create_connection((host, int(port)), timeout=10)
        self._path = path_and_query
        self._headers = headers

    def send_head(self, declared: int) -> None:
        lines = [f"POST {self._path} HTTP/1.1", "Host: 127.0.0.1"]
        lines += [f"{name}: {value}" for name, value in self._headers.items()]
        lines += [f"Content-Length: {declared}", "", ""]
        self._sock.sendall("\r\n".join(lines).encode())

    def send(self, data: bytes) -> None:
        self._sock.sendall(data)

    def response(self) -> tuple[int, bytes]:
        """The status and body of the server's answer."""
        answer = http.client.HTTPResponse(self._sock, method="POST")
        answer.begin()
        return answer.status, answer.read()

    def close(self) -> None:
        self._sock.close()


def upload_path(purpose: str, name: str) -> str:
    return f"/api/files?purpose={purpose}&name={quote(name)}"


class FileRows:
    """The ``files`` rows of a user, straight from PostgreSQL."""

    def __init__(self, database_url: str) -> None:
        self._engine = sa.create_engine(to_psycopg_url(database_url), poolclass=sa.NullPool)

    def of(self, username: str) -> list[tuple[str, str, str]]:
        """Each of the user's files as (id, status, storage key), oldest first."""
        query = sa.text(
            "SELECT f.id, f.status, f.storage_key FROM files f JOIN users u ON u.id = f.owner_id "
            "WHERE u.username = :name ORDER BY f.created_at"
        )
        with self._engine.connect() as connection:
            rows = connection.execute(query, {"name": username})
            return [(str(row[0]), str(row[1]), str(row[2])) for row in rows]

    def status(self, file_id: str) -> str | None:
        with self._engine.connect() as connection:
            found = connection.execute(
                sa.text("SELECT status FROM files WHERE id = :id"), {"id": file_id}
            ).scalar()
            return None if found is None else str(found)

    def dispose(self) -> None:
        self._engine.dispose()


def local_objects(root: Path) -> set[str]:
    """The keys a `local` storage directory holds (its parts are not objects)."""
    if not root.exists():
        return set()
    return {
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and not path.name.startswith(".")
    }


def part_files(root: Path) -> list[Path]:
    """The temporary files of puts under way, or of puts a dead process left."""
    return sorted(root.rglob(PART_GLOB)) if root.exists() else []


def s3_storage(endpoint: str, bucket: str) -> S3FileStorage:
    return S3FileStorage(
        bucket=bucket,
        region=REGION,
        endpoint_url=endpoint,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
    )


def create_bucket(endpoint: str, bucket: str) -> None:
    """Make the bucket with the adapter's own `ensure_bucket`, as development does."""

    async def create() -> None:
        storage = s3_storage(endpoint, bucket)
        try:
            assert await storage.ensure_bucket() is True
        finally:
            await storage.close()

    asyncio.run(create())


def s3_object_keys(endpoint: str, bucket: str) -> set[str]:
    """Every key the bucket holds."""

    async def listed() -> set[str]:
        storage = s3_storage(endpoint, bucket)
        try:
            return {found.key async for found in storage.objects()}
        finally:
            await storage.close()

    return asyncio.run(listed())


def webp_chunks(data: bytes) -> list[bytes]:
    """The four-character codes of a WebP file's RIFF chunks, in order (``EXIF``, ``XMP ``...)."""
    assert data[:4] == b"RIFF", data[:16]
    assert data[8:12] == b"WEBP", data[:16]
    chunks, offset = [], 12
    while offset + 8 <= len(data):
        fourcc, size = (
            data[offset : offset + 4],
            int.from_bytes(data[offset + 4 : offset + 8], "little"),
        )
        chunks.append(fourcc)
        offset += 8 + size + (size & 1)
    return chunks
