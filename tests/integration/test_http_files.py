"""The files routes in-process: uploads raw and as forms, reads, direct uploads, avatars and
article images, on memory persistence with the files in memory or in a local directory."""

import asyncio
import hashlib
import io
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from dishka import Provider, Scope, provide
from litestar import Litestar
from litestar.response import Redirect
from litestar.testing import AsyncTestClient
from PIL import Image

from adapters.filesystem.file_storage import LocalFileStorage
from adapters.memory.database import InMemoryDatabase
from adapters.memory.file_storage import InMemoryFileStorage
from adapters.memory.system import ManualClock
from adapters.memory.users import USERS
from application.common.ports.clock import Clock
from application.files.ports import FileStorage
from application.files.read_file import FileDownload
from application.files.views import FileView
from domain.files.stored_file import storage_key_for
from domain.files.values import FileId
from domain.users.values import Role
from entrypoints.bootstrap import with_signing_secret
from entrypoints.config import load_settings
from entrypoints.http.app import create_app
from entrypoints.http.downloads import content_disposition, download_response
from entrypoints.ioc import make_container
from entrypoints.ioc.memory import InMemoryPersistenceProvider

UNREACHABLE = "postgresql://nobody@127.0.0.1:1/none"
PASSWORD = "password123"
KIB = 1024


class HeldStorage(Provider):
    """The files in a storage the test holds too, under memory persistence."""

    def __init__(self, storage: FileStorage) -> None:
        super().__init__()
        self._storage = storage

    @provide(scope=Scope.APP, override=True)
    def file_storage(self) -> FileStorage:
        return self._storage


class SettableClock(Provider):
    """The container's clock, moved by the test."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self._clock = clock

    @provide(scope=Scope.APP, override=True)
    def clock(self) -> Clock:
        return self._clock


def build_app(tmp_path: Path, *overrides: Provider, **env: str) -> Litestar:
    settings = with_signing_secret(
        load_settings(
            {
                "DATABASE_URL": UNREACHABLE,
                "DATA_DIR": str(tmp_path),
                "APP_PUBLIC_URL": "http://portico.test",
                "OUTBOX_RELAY_IN_API": "false",
                **env,
            },
            env_file=None,
        )
    )
    container = make_container(settings, *overrides)
    return create_app(container, settings)


class World:
    """An app, its client, its in-memory database, and helpers to act as several users."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        database: InMemoryDatabase,
        storage: FileStorage | None = None,
    ) -> None:
        self.client = client
        self.database = database
        self.storage = storage or InMemoryFileStorage()

    async def register(self, name: str | None = None) -> dict[str, str]:
        name = name or f"u{uuid.uuid4().hex[:10]}"
        response = await self.client.post(
            "/api/users",
            json={"user": {"username": name, "email": f"{name}@test.com", "password": PASSWORD}},
        )
        assert response.status_code == 201, response.text
        return {"Authorization": f"Token {response.json()['user']['token']}"}

    def promote(self, username: str, role: Role) -> None:
        user = next(u for u in self.database.table(USERS).values() if str(u.username) == username)
        user.assign_role(role, now=datetime.now(UTC))

    async def upload(
        self,
        headers: dict[str, str],
        content: bytes,
        *,
        purpose: str = "attachment",
        name: str = "file.png",
        content_type: str = "image/png",
    ) -> httpx.Response:
        return await self.client.post(
            "/api/files",
            params={"purpose": purpose, "name": name},
            content=content,
            headers={**headers, "Content-Type": content_type},
        )

    async def uploaded(self, headers: dict[str, str], content: bytes, **kwargs: Any) -> Any:
        response = await self.upload(headers, content, **kwargs)
        assert response.status_code == 201, response.text
        return response.json()["file"]

    async def thumbnail(self, file: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        """The file's thumbnail, once the job that makes it after the upload has run."""
        url = path_of(file["url"]) + "/thumbnail"
        for _ in range(100):
            response = await self.client.get(url, headers=headers)
            if response.status_code != 404 or "thumbnail" not in response.json()["errors"]:
                return response
            await asyncio.sleep(0.02)
        return response


@asynccontextmanager
async def on_this_loop(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """A client that sends a body as its chunks come, on the test's own event loop.

    The test client reads a body whole before the app sees it, and runs the app on a loop
    of its own, one request at a time; a test that mixed the two would share the in-memory
    database's lock between two loops. The app's startup hooks do not run here.
    """
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://portico") as client:
        yield client


def png(width: int = 4, height: int = 3, *, noise: int = 0) -> bytes:
    image = Image.new("RGB", (width, height), (noise % 256, 10, 200))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def assert_envelope(response: httpx.Response, status: int, key: str) -> list[str]:
    assert response.status_code == status, response.text
    errors = response.json()["errors"]
    assert key in errors, errors
    assert all(isinstance(message, str) for message in errors[key])
    return list(errors[key])


@pytest.fixture(params=["memory", "local"])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    database = InMemoryDatabase()
    storage: FileStorage = InMemoryFileStorage()
    if request.param == "local":
        storage = LocalFileStorage(tmp_path / "uploads")
    app = build_app(
        tmp_path,
        InMemoryPersistenceProvider(database),
        HeldStorage(storage),
        FILES_QUOTA_BYTES=str(64 * KIB),
    )
    async with AsyncTestClient(app) as client:
        yield World(client, database, storage)


@pytest.fixture
async def memory_world(tmp_path: Path) -> AsyncIterator[World]:
    database = InMemoryDatabase()
    app = build_app(tmp_path, InMemoryPersistenceProvider(database))
    async with AsyncTestClient(app) as client:
        yield World(client, database)


async def test_a_raw_upload_reads_back_the_same_bytes_with_the_headers_of_a_download(
    world: World,
) -> None:
    alice = await world.register()
    image = png()
    created = await world.upload(alice, image, name="café.png", content_type="text/html")
    assert created.status_code == 201, created.text
    file = created.json()["file"]
    assert file["contentType"] == "image/png"
    assert file["size"] == len(image)
    assert file["sha256"] == hashlib.sha256(image).hexdigest()
    assert file["name"] == "café.png"
    assert file["status"] == "ready"
    assert file["purpose"] == "attachment"
    assert file["articleId"] is None
    assert set(file) == {
        "id",
        "purpose",
        "name",
        "contentType",
        "size",
        "sha256",
        "status",
        "url",
        "thumbnailUrl",
        "articleId",
        "createdAt",
    }

    read = await world.client.get(path_of(file["url"]), headers=alice)
    assert read.status_code == 200
    assert read.content == image
    assert read.headers["content-type"] == "image/png"
    assert read.headers["content-length"] == str(len(image))
    assert read.headers["accept-ranges"] == "bytes"
    assert read.headers["etag"] == f'"{file["sha256"]}"'
    assert read.headers["x-content-type-options"] == "nosniff"
    policy = read.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "sandbox" in policy
    assert read.headers["cache-control"] == "private, no-cache"
    assert read.headers["content-disposition"] == (
        "inline; filename=\"caf_.png\"; filename*=UTF-8''caf%C3%A9.png"
    )


async def test_a_form_upload_streams_its_one_file_and_takes_its_name_from_the_part(
    world: World,
) -> None:
    alice = await world.register()
    image = png(noise=1)
    created = await world.client.post(
        "/api/files",
        data={"purpose": "avatar"},
        files={"file": ("me.png", image, "application/octet-stream")},
        headers=alice,
    )
    assert created.status_code == 201, created.text
    file = created.json()["file"]
    assert (file["name"], file["purpose"], file["size"]) == ("me.png", "avatar", len(image))
    read = await world.client.get(path_of(file["url"]), headers=alice)
    assert read.status_code == 200
    assert read.content == image
    assert read.headers["cache-control"] == "private, no-cache"


async def test_a_form_must_hold_its_purpose_before_one_file(memory_world: World) -> None:
    alice = await memory_world.register()
    image = png()
    boundary = "b0undary"

    def form(*parts: tuple[str, str | None, bytes]) -> bytes:
        body = b""
        for name, filename, content in parts:
            disposition = f'form-data; name="{name}"'
            if filename is not None:
                disposition += f'; filename="{filename}"'
            body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
            body += content + b"\r\n"
        return body + f"--{boundary}--\r\n".encode()

    async def post(body: bytes) -> httpx.Response:
        return await memory_world.client.post(
            "/api/files",
            content=body,
            headers={**alice, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        )

    after = await post(form(("file", "a.png", image), ("purpose", None, b"avatar")))
    assert_envelope(after, 422, "purpose")
    twice = await post(
        form(("purpose", None, b"avatar"), ("file", "a.png", image), ("file", "b.png", image))
    )
    assert_envelope(twice, 422, "file")
    no_file = await post(form(("purpose", None, b"avatar")))
    assert assert_envelope(no_file, 422, "file") == ["can't be blank"]
    unknown = await post(form(("colour", None, b"red"), ("file", "a.png", image)))
    assert_envelope(unknown, 422, "colour")
    bad_purpose = await post(form(("purpose", None, b"wallpaper"), ("file", "a.png", image)))
    assert_envelope(bad_purpose, 422, "purpose")
    cut = await post(form(("purpose", None, b"avatar"), ("file", "a.png", image))[:-40])
    assert_envelope(cut, 400, "body")
    not_a_form = await post(b"this is not multipart at all")
    assert_envelope(not_a_form, 400, "body")
    no_boundary = await memory_world.client.post(
        "/api/files", content=b"x", headers={**alice, "Content-Type": "multipart/form-data"}
    )
    assert_envelope(no_boundary, 400, "body")
    query_only = await memory_world.client.post(
        "/api/files",
        params={"purpose": "avatar", "name": "q.png"},
        content=form(("file", "a.png", image)),
        headers={**alice, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert query_only.status_code == 201, query_only.text
    assert query_only.json()["file"]["purpose"] == "attachment"
    listed = await post(form(("purpose", None, b"avatar"), ("file", "ok.png", image)))
    assert listed.status_code == 201, listed.text
    unsupported = await memory_world.client.request(
        "TRACE", "/api/files", content=image, headers={"Content-Type": "image/png"}
    )
    assert_envelope(unsupported, 405, "method")


async def test_a_range_is_served_as_206_and_one_past_the_end_as_416(world: World) -> None:
    alice = await world.register()
    content = b"0123456789" * 10
    file = await world.uploaded(alice, content, name="digits.txt", content_type="text/plain")
    url = path_of(file["url"])

    async def ranged(value: str) -> httpx.Response:
        return await world.client.get(url, headers={**alice, "Range": value})

    middle = await ranged("bytes=10-19")
    assert middle.status_code == 206
    assert middle.content == content[10:20]
    assert middle.headers["content-range"] == "bytes 10-19/100"
    assert middle.headers["content-length"] == "10"
    assert middle.headers["content-type"] == "text/plain; charset=utf-8"
    assert middle.headers["content-disposition"].startswith("attachment;")
    rest = await ranged("bytes=95-")
    assert (rest.status_code, rest.content) == (206, content[95:])
    assert rest.headers["content-range"] == "bytes 95-99/100"
    tail = await ranged("bytes=-3")
    assert (tail.status_code, tail.content) == (206, content[-3:])
    clamped = await ranged("bytes=98-500")
    assert (clamped.status_code, clamped.content) == (206, content[98:])
    for ignored in ("bytes=0-1,5-6", "items=0-1", "bytes=5-2", "bytes=x-y"):
        whole = await ranged(ignored)
        assert (whole.status_code, whole.content) == (200, content), ignored
    past = await ranged("bytes=100-")
    assert_envelope(past, 416, "range")
    assert past.headers["content-range"] == "bytes */100"
    assert_envelope(await ranged("bytes=-0"), 416, "range")


async def test_a_current_etag_gets_304_without_a_body(world: World) -> None:
    alice = await world.register()
    file = await world.uploaded(alice, png())
    url = path_of(file["url"])
    first = await world.client.get(url, headers=alice)
    etag = first.headers["etag"]
    for held in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = await world.client.get(url, headers={**alice, "If-None-Match": held})
        assert again.status_code == 304, held
        assert again.content == b""
        assert again.headers["etag"] == etag
    stale = await world.client.get(url, headers={**alice, "If-None-Match": '"other"'})
    assert stale.status_code == 200


async def test_a_hostile_name_gets_a_safe_ascii_fallback_and_the_exact_name_encoded(
    world: World,
) -> None:
    alice = await world.register()
    name = 'quote" name;日本 \u00e9%.pdf'
    content = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
    file = await world.uploaded(alice, content, name=name, content_type="application/pdf")
    read = await world.client.get(path_of(file["url"]), headers=alice)
    assert read.status_code == 200
    disposition = read.headers["content-disposition"]
    fallback, encoded = disposition.split("; filename*=")
    assert fallback == 'attachment; filename="quote name;__ _%.pdf"'
    assert encoded == "UTF-8''quote%22%20name%3B%E6%97%A5%E6%9C%AC%20%C3%A9%25.pdf"
    assert disposition.isascii()


def test_the_ascii_fallback_drops_what_would_break_out_of_its_quotes() -> None:
    """Names the domain refuses still never break the header, should one reach it."""
    disposition = content_disposition("text/plain", 'a\\"b\r\nSet-Cookie: x\u202e.txt')
    assert disposition.startswith('attachment; filename="abSet-Cookie: x.txt"; filename*=')
    assert "\r" not in disposition
    assert "\n" not in disposition


async def test_a_body_over_the_purposes_limit_is_refused_as_declared_and_as_it_streams(
    tmp_path: Path,
) -> None:
    app = build_app(tmp_path, InMemoryPersistenceProvider(), FILES_AVATAR_MAX_BYTES=str(2 * KIB))
    async with on_this_loop(app) as client:
        world = World(client, InMemoryDatabase())
        alice = await world.register()
        declared = await world.upload(alice, png() + b"\0" * 4 * KIB, purpose="avatar")
        assert_envelope(declared, 413, "file")

        sent: list[int] = []

        async def chunks() -> AsyncIterator[bytes]:
            yield png()
            for index in range(256):
                sent.append(index)
                yield b"\0" * KIB

        streamed = await client.post(
            "/api/files",
            params={"purpose": "avatar", "name": "big.png"},
            content=chunks(),
            headers={**alice, "Content-Type": "image/png"},
        )
    assert "content-length" not in streamed.request.headers
    assert_envelope(streamed, 413, "file")
    assert len(sent) < 8, "the body was read on past the limit"


async def test_the_bytes_decide_the_type_not_the_content_type(world: World) -> None:
    alice = await world.register()
    page = b"<html><body>hello</body></html>"
    lying = await world.upload(alice, page, purpose="avatar", content_type="image/png")
    assert_envelope(lying, 415, "content_type")
    as_attachment = await world.upload(alice, page, content_type="text/plain")
    assert_envelope(as_attachment, 415, "content_type")
    polyglot = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;<script>alert(1)</script>"
    refused = await world.upload(alice, polyglot, content_type="image/gif")
    assert_envelope(refused, 415, "content_type")


async def test_a_name_with_a_path_or_an_invisible_character_and_an_empty_file_are_422(
    world: World,
) -> None:
    alice = await world.register()
    for name in ("../etc/passwd", "a\x00.png", "cod\u202egnp.exe", "..", "   "):
        refused = await world.upload(alice, png(), name=name)
        assert_envelope(refused, 422, "name")
    form = await world.client.post(
        "/api/files",
        data={"purpose": "attachment"},
        files={"file": ("../up.png", png(), "image/png")},
        headers=alice,
    )
    assert_envelope(form, 422, "name")
    empty = await world.upload(alice, b"")
    assert assert_envelope(empty, 422, "file") == ["is empty"]
    unnamed = await world.client.post(
        "/api/files", params={"purpose": "attachment"}, content=png(), headers=alice
    )
    assert unnamed.status_code == 201, unnamed.text
    assert unnamed.json()["file"]["name"] == "upload.png"


async def test_uploads_past_the_quota_are_413(world: World) -> None:
    alice = await world.register()
    chunk = b"a" * (30 * KIB)
    await world.uploaded(alice, chunk, name="one.txt", content_type="text/plain")
    await world.uploaded(alice, chunk, name="two.txt", content_type="text/plain")
    third = await world.upload(alice, chunk, name="three.txt", content_type="text/plain")
    assert_envelope(third, 413, "quota")
    started = await world.client.post(
        "/api/files/uploads",
        json={
            "upload": {
                "purpose": "attachment",
                "name": "four.txt",
                "size": len(chunk),
                "contentType": "text/plain",
                "sha256": hashlib.sha256(chunk).hexdigest(),
            }
        },
        headers=alice,
    )
    assert_envelope(started, 413, "quota")


async def test_another_users_attachment_is_not_found_and_their_avatar_not_theirs_to_delete(
    world: World,
) -> None:
    alice, bob = await world.register(), await world.register()
    attachment = await world.uploaded(alice, png(noise=2))
    avatar = await world.uploaded(alice, png(noise=3), purpose="avatar")
    secret = path_of(attachment["url"])
    assert_envelope(await world.client.get(secret, headers=bob), 404, "file")
    assert_envelope(await world.client.get(secret), 404, "file")
    assert_envelope(await world.client.delete(secret, headers=bob), 404, "file")
    original = path_of(avatar["url"])
    assert_envelope(await world.client.get(original), 404, "file")
    assert_envelope(await world.client.get(original, headers=bob), 404, "file")
    anonymous = await world.thumbnail(avatar)
    assert anonymous.status_code == 200
    assert anonymous.headers["content-type"] == "image/webp"
    assert anonymous.headers["cache-control"] == "public, max-age=300"
    assert anonymous.headers["content-disposition"].startswith("inline;")
    assert (await world.thumbnail(avatar, bob)).status_code == 200
    assert_envelope(await world.client.delete(original, headers=bob), 403, "file")
    assert (await world.client.delete(secret, headers=alice)).status_code == 204
    assert_envelope(await world.client.get(secret, headers=alice), 404, "file")


async def test_a_moderator_may_delete_anyones_file(world: World) -> None:
    alice, moderator = await world.register(), await world.register("moderator1")
    world.promote("moderator1", Role.MODERATOR)
    avatar = await world.uploaded(alice, png(noise=4), purpose="avatar")
    assert (await world.thumbnail(avatar)).status_code == 200
    url = path_of(avatar["url"])
    assert (await world.client.delete(url, headers=moderator)).status_code == 204
    assert_envelope(await world.client.get(url, headers=alice), 404, "file")
    assert_envelope(await world.client.get(f"{url}/thumbnail"), 404, "file")


async def test_a_path_id_that_is_no_uuid_is_not_found(memory_world: World) -> None:
    alice = await memory_world.register()
    for method in ("GET", "DELETE"):
        response = await memory_world.client.request(method, "/api/files/not-a-uuid", headers=alice)
        assert_envelope(response, 404, "route")
    thumbnail = await memory_world.client.get("/api/files/123/thumbnail")
    assert_envelope(thumbnail, 404, "route")


def announce(content: bytes, **overrides: Any) -> dict[str, Any]:
    return {
        "upload": {
            "purpose": "attachment",
            "name": "direct.png",
            "size": len(content),
            "contentType": "image/png",
            "sha256": hashlib.sha256(content).hexdigest(),
            **overrides,
        }
    }


async def test_a_direct_upload_is_started_put_to_its_url_and_completed(world: World) -> None:
    alice = await world.register()
    image = png(noise=5)
    started = await world.client.post("/api/files/uploads", json=announce(image), headers=alice)
    assert started.status_code == 201, started.text
    body = started.json()
    assert body["file"]["status"] == "pending"
    upload = body["upload"]
    assert upload["method"] == "PUT"
    assert upload["headers"] == {"Content-Type": "image/png", "Content-Length": str(len(image))}
    assert datetime.fromisoformat(upload["expiresAt"]) > datetime.now(UTC)
    file_url = path_of(body["file"]["url"])
    assert_envelope(await world.client.get(file_url, headers=alice), 404, "file")
    nothing = await world.client.post(f"{file_url}/complete", headers=alice)
    assert_envelope(nothing, 409, "file")

    put = await world.client.put(path_of(upload["url"]), content=image, headers=upload["headers"])
    assert put.status_code == 204, put.text
    completed = await world.client.post(f"{file_url}/complete", headers=alice)
    assert completed.status_code == 200, completed.text
    assert completed.json()["file"]["status"] == "ready"
    assert (await world.client.get(file_url, headers=alice)).content == image
    again = await world.client.post(f"{file_url}/complete", headers=alice)
    assert again.status_code == 200


async def test_a_direct_upload_url_takes_only_the_announced_length_type_and_signature(
    world: World,
) -> None:
    alice = await world.register()
    image = png(noise=6)
    started = await world.client.post("/api/files/uploads", json=announce(image), headers=alice)
    upload = started.json()["upload"]
    url = path_of(upload["url"])
    longer = await world.client.put(
        url, content=image + b"\0", headers={"Content-Type": "image/png"}
    )
    assert_envelope(longer, 413, "file")
    other_type = await world.client.put(url, content=image, headers={"Content-Type": "image/gif"})
    assert_envelope(other_type, 415, "content_type")
    forged = url.replace("signature=", "signature=x")
    assert_envelope(
        await world.client.put(forged, content=image, headers=upload["headers"]), 403, "upload"
    )
    later = url.replace("expires=", "expires=1")
    assert_envelope(
        await world.client.put(later, content=image, headers=upload["headers"]), 403, "upload"
    )
    foreign = url.replace("signature=", "signature=%C3%A9")
    refused = await world.client.put(foreign, content=image, headers=upload["headers"])
    assert_envelope(refused, 422, "signature")


async def test_a_direct_upload_url_expires(tmp_path: Path) -> None:
    clock = ManualClock(datetime.now(UTC))
    app = build_app(
        tmp_path,
        InMemoryPersistenceProvider(),
        SettableClock(clock),
        FILES_PRESIGN_EXPIRY_SECONDS="10",
    )
    async with AsyncTestClient(app) as client:
        world = World(client, InMemoryDatabase())
        alice = await world.register()
        image = png(noise=7)
        started = await client.post("/api/files/uploads", json=announce(image), headers=alice)
        upload = started.json()["upload"]
        clock.advance(timedelta(seconds=11))
        expired = await client.put(path_of(upload["url"]), content=image, headers=upload["headers"])
        assert "expired" in assert_envelope(expired, 403, "upload")[0]


async def test_a_completed_upload_of_other_bytes_is_rejected(world: World) -> None:
    alice = await world.register()
    image, other = png(noise=8), png(noise=9)
    assert len(image) == len(other)
    started = await world.client.post("/api/files/uploads", json=announce(image), headers=alice)
    body = started.json()
    upload, file_url = body["upload"], path_of(body["file"]["url"])
    put = await world.client.put(path_of(upload["url"]), content=other, headers=upload["headers"])
    assert_envelope(put, 422, "file")

    async def other_bytes() -> AsyncIterator[bytes]:
        yield other

    key = storage_key_for(FileId(uuid.UUID(body["file"]["id"])))
    await world.storage.put(key, other_bytes(), content_type="image/png")
    mismatch = await world.client.post(f"{file_url}/complete", headers=alice)
    assert_envelope(mismatch, 422, "file")
    assert await world.storage.stat(key) is None
    assert_envelope(await world.client.get(file_url, headers=alice), 404, "file")
    again = await world.client.put(path_of(upload["url"]), content=image, headers=upload["headers"])
    assert_envelope(again, 404, "file")

    page = b"<html>no</html>"
    started = await world.client.post(
        "/api/files/uploads",
        json=announce(page, contentType="text/plain", name="p.txt"),
        headers=alice,
    )
    upload = started.json()["upload"]
    refused = await world.client.put(
        path_of(upload["url"]), content=page, headers=upload["headers"]
    )
    assert_envelope(refused, 415, "content_type")


async def test_an_avatar_becomes_the_profile_image_and_no_other_file_may(world: World) -> None:
    alice = await world.register()
    avatar = await world.uploaded(alice, png(noise=10), purpose="avatar")
    attachment = await world.uploaded(alice, png(noise=11))
    set_avatar = await world.client.put(
        "/api/user/avatar", json={"avatar": {"fileId": avatar["id"]}}, headers=alice
    )
    assert set_avatar.status_code == 200, set_avatar.text
    user = set_avatar.json()["user"]
    assert user["image"] == avatar["url"] + "/thumbnail"
    assert user["token"] == alice["Authorization"].removeprefix("Token ")
    assert set_avatar.headers["cache-control"] == "no-store"
    current = await world.client.get("/api/user", headers=alice)
    assert (
        current.json()["user"]["image"] == avatar["thumbnailUrl"]
        or current.json()["user"]["image"] == avatar["url"] + "/thumbnail"
    )
    not_avatar = await world.client.put(
        "/api/user/avatar", json={"avatar": {"fileId": attachment["id"]}}, headers=alice
    )
    assert_envelope(not_avatar, 409, "file")
    unknown = await world.client.put(
        "/api/user/avatar", json={"avatar": {"fileId": str(uuid.uuid4())}}, headers=alice
    )
    assert_envelope(unknown, 404, "file")
    malformed = await world.client.put(
        "/api/user/avatar", json={"avatar": {"fileId": "nope"}}, headers=alice
    )
    assert_envelope(malformed, 422, "fileId")


async def publish(world: World, headers: dict[str, str]) -> str:
    created = await world.client.post(
        "/api/articles",
        json={"article": {"title": f"T {uuid.uuid4().hex}", "description": "D", "body": "B"}},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    return str(created.json()["article"]["slug"])


async def test_an_article_carries_the_images_its_author_chooses(world: World) -> None:
    alice, bob = await world.register(), await world.register()
    slug = await publish(world, alice)
    first = await world.uploaded(alice, png(noise=12), purpose="article_image")
    second = await world.uploaded(alice, png(noise=13), purpose="article_image")
    images = f"/api/articles/{slug}/images"
    assert (await world.client.get(images)).json() == {"images": []}
    assert_envelope(await world.client.get(path_of(first["url"])), 404, "file")

    chosen = await world.client.put(
        images, json={"images": [second["id"], first["id"]]}, headers=alice
    )
    assert chosen.status_code == 200, chosen.text
    assert [image["id"] for image in chosen.json()["images"]] == [second["id"], first["id"]]
    assert {image["articleId"] for image in chosen.json()["images"]} != {None}
    listed = await world.client.get(images)
    assert {image["id"] for image in listed.json()["images"]} == {first["id"], second["id"]}
    public = await world.thumbnail(first)
    assert public.status_code == 200
    assert public.headers["cache-control"] == "public, max-age=300"
    assert_envelope(await world.client.get(path_of(first["url"])), 404, "file")

    assert_envelope(
        await world.client.put(images, json={"images": [first["id"]]}, headers=bob), 403, "article"
    )
    twice = await world.client.put(
        images, json={"images": [first["id"], first["id"]]}, headers=alice
    )
    assert_envelope(twice, 422, "images")
    attachment = await world.uploaded(alice, png(noise=14))
    wrong = await world.client.put(images, json={"images": [attachment["id"]]}, headers=alice)
    assert_envelope(wrong, 409, "file")

    kept = await world.client.put(images, json={"images": [second["id"]]}, headers=alice)
    assert [image["id"] for image in kept.json()["images"]] == [second["id"]]
    assert_envelope(await world.thumbnail(first), 404, "file")
    assert (await world.thumbnail(first, alice)).status_code == 200
    assert_envelope(await world.client.get("/api/articles/nope/images"), 404, "article")


@pytest.mark.integration
async def test_deleting_an_article_deletes_its_images(
    clean_database: Any, migrated_url: str, tmp_path: Path
) -> None:
    """On PostgreSQL, with the outbox relayed in the API: the handler of `article.deleted`."""
    app = build_app(
        tmp_path,
        DATABASE_URL=migrated_url,
        OUTBOX_RELAY_IN_API="true",
        STORAGE_LOCAL_DIR=str(tmp_path / "uploads"),
    )
    async with AsyncTestClient(app) as client:
        world = World(client, InMemoryDatabase())
        alice = await world.register()
        slug = await publish(world, alice)
        image = await world.uploaded(alice, png(noise=15), purpose="article_image")
        chosen = await client.put(
            f"/api/articles/{slug}/images", json={"images": [image["id"]]}, headers=alice
        )
        assert chosen.status_code == 200, chosen.text
        assert (await world.thumbnail(image)).status_code == 200
        assert (await client.delete(f"/api/articles/{slug}", headers=alice)).status_code == 204
        url = path_of(image["url"])
        for _ in range(200):
            if (await client.get(url, headers=alice)).status_code == 404:
                break
            await asyncio.sleep(0.05)
        assert_envelope(await client.get(url, headers=alice), 404, "file")
        assert_envelope(await client.get(f"{url}/thumbnail"), 404, "file")


async def test_uploads_are_exempt_from_the_generic_body_limit_and_nothing_else_is(
    tmp_path: Path,
) -> None:
    app = build_app(
        tmp_path,
        InMemoryPersistenceProvider(),
        MAX_REQUEST_BODY_BYTES=str(4 * KIB),
        APP_MAX_CONCURRENT_REQUESTS="1",
    )
    async with AsyncTestClient(app) as client:
        world = World(client, InMemoryDatabase())
        alice = await world.register()
        text = b"twelve bytes" * KIB
        large = await world.upload(alice, text, name="big.txt", content_type="text/plain")
        assert large.status_code == 201, large.text
        assert (await client.get(path_of(large.json()["file"]["url"]), headers=alice)).content == (
            text
        )
        form = await client.post(
            "/api/files",
            data={"purpose": "attachment"},
            files={"file": ("big.txt", text, "text/plain")},
            headers=alice,
        )
        assert form.status_code == 201, form.text
        padded = announce(text, name="x" * 200)
        padded["upload"]["padding"] = "x" * (8 * KIB)
        json_body = await client.post("/api/files/uploads", json=padded, headers=alice)
        assert assert_envelope(json_body, 413, "body") == ["is too large; the limit is 4096 bytes"]
        images = await client.put(
            "/api/articles/any/images", json={"images": ["x" * (8 * KIB)]}, headers=alice
        )
        assert_envelope(images, 413, "body")


async def test_an_upload_in_progress_holds_no_place_in_the_concurrency_limit(
    tmp_path: Path,
) -> None:
    """Every request on this test's own loop, since the test client's run one at a time."""
    app = build_app(
        tmp_path,
        InMemoryPersistenceProvider(),
        APP_MAX_CONCURRENT_REQUESTS="1",
        MAX_REQUEST_BODY_BYTES=str(4 * KIB),
    )
    halfway, finish = asyncio.Event(), asyncio.Event()
    first_half = b"more than the generic limit, " * 256

    async def slow() -> AsyncIterator[bytes]:
        yield first_half
        halfway.set()
        await finish.wait()
        yield b"second half"

    async with on_this_loop(app) as raw:
        alice = await World(raw, InMemoryDatabase()).register()
        upload = asyncio.create_task(
            raw.post(
                "/api/files",
                params={"purpose": "attachment", "name": "slow.txt"},
                content=slow(),
                headers=alice,
            )
        )
        await asyncio.wait_for(halfway.wait(), timeout=5)
        other = await asyncio.wait_for(raw.get("/api/tags"), timeout=5)
        assert other.status_code == 200
        finish.set()
        uploaded = await upload
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["file"]["size"] == len(first_half) + len(b"second half")


async def test_a_streamed_body_that_stops_arriving_gets_408(tmp_path: Path) -> None:
    app = build_app(tmp_path, InMemoryPersistenceProvider(), APP_BODY_READ_TIMEOUT_SECONDS="0.2")
    async with on_this_loop(app) as client:
        alice = await World(client, InMemoryDatabase()).register()

        async def stalling() -> AsyncIterator[bytes]:
            yield png()
            await asyncio.sleep(1)
            yield b"never read"

        stalled = await client.post(
            "/api/files",
            params={"purpose": "attachment", "name": "slow.png"},
            content=stalling(),
            headers=alice,
        )
    assert_envelope(stalled, 408, "body")
    assert stalled.headers["connection"] == "close"


def test_the_streamed_routes_are_exactly_the_uploads(tmp_path: Path) -> None:
    app = build_app(tmp_path, InMemoryPersistenceProvider())
    streamed = {
        (method, route.path)
        for route in app.routes
        for handler in getattr(route, "route_handlers", [])
        if handler.resolve_request_max_body_size() is None
        for method in handler.http_methods
    }
    assert streamed == {("POST", "/api/files"), ("PUT", "/api/files/{file_id:uuid}/content")}


async def test_a_download_that_storage_serves_itself_is_a_redirect_no_cache_keeps() -> None:
    view = FileView(
        id=str(uuid.uuid4()),
        purpose="attachment",
        name="a.pdf",
        content_type="application/pdf",
        size=10,
        sha256="0" * 64,
        status="ready",
        url="http://portico.test/api/files/x",
        thumbnail_url=None,
        article_id=None,
        created_at=datetime.now(UTC),
    )
    download = FileDownload(
        file=view,
        content_type=view.content_type,
        name=view.name,
        size=view.size,
        etag=view.sha256,
        redirect_url="https://bucket.example/files/x?X-Amz-Signature=abc",
        _storage=InMemoryFileStorage(),
        _key="files/x",
    )
    response = await download_response(
        download, thumbnail=False, range_header="bytes=0-1", if_none_match='"other"'
    )
    assert isinstance(response, Redirect)
    assert response.status_code == 307
    assert response.url == download.redirect_url
    assert response.headers["Cache-Control"] == "no-store"


async def test_an_upload_past_the_streaming_cap_gets_503_before_its_body_is_read(
    tmp_path: Path,
) -> None:
    app = build_app(tmp_path, InMemoryPersistenceProvider(), APP_MAX_STREAMED_BODIES="1")
    async with on_this_loop(app) as client:
        alice = await World(client, InMemoryDatabase()).register()
        release = asyncio.Event()
        second_read = False

        async def held() -> AsyncIterator[bytes]:
            yield png()
            await release.wait()

        async def never_read() -> AsyncIterator[bytes]:
            nonlocal second_read
            second_read = True
            yield png(noise=1)

        upload = {"purpose": "attachment", "name": "held.png"}
        first = asyncio.create_task(
            client.post("/api/files", params=upload, content=held(), headers=alice)
        )
        await asyncio.sleep(0.1)  # the first upload is inside, waiting for its last chunk
        assert not first.done()
        refused = await client.post(
            "/api/files", params=upload, content=never_read(), headers=alice
        )
        release.set()
        stored = await first
        after = await client.post("/api/files", params=upload, content=png(noise=2), headers=alice)
    assert_envelope(refused, 503, "body")
    assert int(refused.headers["retry-after"]) >= 1
    assert not second_read
    assert stored.status_code == 201, stored.text
    assert after.status_code == 201, after.text
