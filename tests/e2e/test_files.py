"""Files against `portico serve` on PostgreSQL: uploads, reads, direct uploads, refusals, crashes.

Three servers, each started once: one on `local` storage (a directory of this test's), one
on `s3` (the moto server of `s3_endpoint`, which checks presigned URLs as S3 does), and
one that the crash test kills. Jobs run in the API process (JOBS_QUEUE=in-process), so the
thumbnails are made there; only the `local` server relays the outbox, so the handler of
`article.deleted` runs where that storage is.

Limits are small (64 KiB per image, 4 MiB per attachment, 6 MiB per user), so each is
reached with a few megabytes. The crash test runs last: its `portico files gc` clears
the records of deleted files that other tests look at.
"""

import hashlib
import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

import httpx
import pytest
from PIL import Image

from tests.support.files import image_bytes, png, png_declaring
from tests.support.files_e2e import (
    FileRows,
    RawUpload,
    Uploader,
    create_bucket,
    local_objects,
    part_files,
    s3_object_keys,
    upload_path,
    wait_for,
    webp_chunks,
)
from tests.support.live_clients import server_failures
from tests.support.network import free_port
from tests.support.s3_server import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY
from tests.support.server import RunningServer, clean_env, portico_server, run_portico

pytestmark = pytest.mark.e2e

KIB = 1024
MIB = 1024 * KIB
IMAGE_MAX = 64 * KIB
ATTACHMENT_MAX = 4 * MIB
QUOTA = 6 * MIB
PRESIGN_SECONDS = 10
"""The shortest FILES_PRESIGN_EXPIRY_SECONDS allows: the expiry test sleeps past it."""
ORPHAN_GRACE_SECONDS = 24 * 3600
"""How old a dead upload's part must be before `portico files gc` removes it: a day, the
floor of the orphan grace (entrypoints.worker.jobs.ORPHAN_GRACE_FLOOR), since the default
FILES_PENDING_TTL_SECONDS (an hour) is shorter. The test cannot wait a day: it dates the
part back with os.utime, as its age is read from its mtime."""
DOWNLOAD_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox"
NOT_FOUND = {"errors": {"file": ["not found"]}}
EXIF_MARKER = "PorticoCam 52.52N 13.40E"


@dataclass
class Served:
    """A running server, the settings it runs with, and its `local` storage directory."""

    server: RunningServer
    env: dict[str, str]
    storage: Path

    @property
    def base_url(self) -> str:
        return self.server.base_url


def server_env(migrated_url: str, data_dir: Path, port: int, **settings: str) -> dict[str, str]:
    return clean_env(
        APP_ENV="test",
        DATABASE_URL=migrated_url,
        DATA_DIR=str(data_dir),
        APP_PUBLIC_URL=f"http://127.0.0.1:{port}",
        JOBS_QUEUE="in-process",
        RATE_LIMIT_AUTH_PER_IP="1000",
        RATE_LIMIT_REGISTRATIONS_PER_IP="1000",
        FILES_AVATAR_MAX_BYTES=str(IMAGE_MAX),
        FILES_ARTICLE_IMAGE_MAX_BYTES=str(IMAGE_MAX),
        FILES_ATTACHMENT_MAX_BYTES=str(ATTACHMENT_MAX),
        FILES_QUOTA_BYTES=str(QUOTA),
        FILES_PRESIGN_EXPIRY_SECONDS=str(PRESIGN_SECONDS),
        **settings,
    )


@pytest.fixture(scope="module")
def rows(migrated_url: str) -> Iterator[FileRows]:
    reader = FileRows(migrated_url)
    yield reader
    reader.dispose()


@pytest.fixture(scope="module")
def local(migrated_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    port, data_dir = free_port(), tmp_path_factory.mktemp("files-local-data")
    storage = data_dir / "uploads"
    env = server_env(migrated_url, data_dir, port, STORAGE_LOCAL_DIR=str(storage))
    with portico_server(port, env, tmp_path_factory.mktemp("files-local")) as server:
        yield Served(server, env, storage)


@pytest.fixture
def api(local: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=local.base_url, timeout=10) as client:
        yield client


def text_of(size: int, seed: str = "") -> bytes:
    """`size` bytes of plain text, different for each `seed`."""
    line = f"portico {seed} line of text\n".encode()
    return (line * (size // len(line) + 1))[:size]


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def jpeg_with_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = EXIF_MARKER  # Make
    exif[0x0110] = EXIF_MARKER  # Model
    return image_bytes("JPEG", size=(64, 48), exif=exif.tobytes())


def errors_of(response: httpx.Response) -> list[str]:
    body = response.json()
    assert set(body) == {"errors"}, body
    return list(body["errors"])


def thumbnail_when_made(api: httpx.Client, file_id: str, **options: Any) -> httpx.Response:
    """The thumbnail once the in-process job has made it (404 until then)."""
    return wait_for(
        lambda: api.get(f"/api/files/{file_id}/thumbnail", **options),
        lambda response: response.status_code != 404,
    )


def assert_clean_webp(response: httpx.Response, size: tuple[int, int]) -> None:
    """A WebP thumbnail of `size` pixels, carrying no EXIF or XMP metadata."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/webp"
    assert response.headers["x-content-type-options"] == "nosniff"
    thumbnail = Image.open(BytesIO(response.content))
    assert (thumbnail.format, thumbnail.size) == ("WEBP", size)
    assert "exif" not in thumbnail.info
    assert "xmp" not in thumbnail.info
    assert not {b"EXIF", b"XMP "} & set(webp_chunks(response.content))
    assert EXIF_MARKER.encode() not in response.content


def publish(api: httpx.Client, author: Uploader) -> str:
    article = {"title": f"Pictures {uuid.uuid4().hex[:8]}", "description": "d", "body": "b"}
    created = api.post("/api/articles", json={"article": article}, headers=author.headers)
    assert created.status_code == 201, created.text
    return str(created.json()["article"]["slug"])


def start_direct(
    api: httpx.Client, owner: Uploader, data: bytes, *, name: str = "notes.txt"
) -> dict[str, Any]:
    """Announce a text attachment of `data`; the pending file and its upload request."""
    announced = {
        "purpose": "attachment",
        "name": name,
        "size": len(data),
        "contentType": "text/plain",
        "sha256": sha256_of(data),
    }
    started = api.post("/api/files/uploads", json={"upload": announced}, headers=owner.headers)
    assert started.status_code == 201, started.text
    body: dict[str, Any] = started.json()
    assert body["file"]["status"] == "pending"
    assert body["upload"]["method"] == "PUT"
    return body


def put_to(upload: dict[str, Any], data: bytes, **header_changes: str) -> httpx.Response:
    """PUT `data` to the upload URL with every header it names (some changed), and no token."""
    headers = {**upload["headers"], **header_changes}
    return httpx.put(upload["url"], content=data, headers=headers, timeout=10)


# --- uploading and reading -----------------------------------------------------------------


def test_a_raw_upload_reads_back_with_ranges_validators_and_safe_headers(
    api: httpx.Client, local: Served, rows: FileRows
) -> None:
    owner = Uploader.register(api)
    data = text_of(1000, "ranges")
    name = 'Résumé "final".txt'
    uploaded = owner.uploaded(api, data, name=name, content_type="image/png")
    file_id = uploaded["id"]
    assert {key: uploaded[key] for key in ("purpose", "name", "contentType", "size")} == {
        "purpose": "attachment",
        "name": name,
        "contentType": "text/plain",
        "size": 1000,
    }, "the type comes from the bytes, not from Content-Type"
    assert (uploaded["sha256"], uploaded["status"]) == (sha256_of(data), "ready")
    assert uploaded["url"] == f"{local.base_url}/api/files/{file_id}"
    assert rows.of(owner.name) == [(file_id, "ready", f"files/{file_id}")]
    assert (local.storage / "files" / file_id).read_bytes() == data

    path = f"/api/files/{file_id}"
    whole = api.get(path, headers=owner.headers)
    assert (whole.status_code, whole.content) == (200, data)
    etag = f'"{sha256_of(data)}"'
    assert whole.headers["etag"] == etag
    assert whole.headers["content-type"].startswith("text/plain")
    assert whole.headers["x-content-type-options"] == "nosniff"
    assert whole.headers["content-security-policy"] == DOWNLOAD_POLICY
    assert whole.headers["cache-control"] == "private, no-cache"
    assert whole.headers["accept-ranges"] == "bytes"
    disposition = whole.headers["content-disposition"]
    assert disposition == (
        'attachment; filename="R_sum_ final.txt"; '
        "filename*=UTF-8''R%C3%A9sum%C3%A9%20%22final%22.txt"
    )
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == name

    for asked, start, end in (
        ("bytes=10-19", 10, 19),
        ("bytes=-5", 995, 999),
        ("bytes=990-", 990, 999),
    ):
        part = api.get(path, headers={**owner.headers, "Range": asked})
        assert part.status_code == 206, (asked, part.text)
        assert part.content == data[start : end + 1]
        assert part.headers["content-range"] == f"bytes {start}-{end}/1000"
        assert part.headers["content-security-policy"] == DOWNLOAD_POLICY
    past_the_end = api.get(path, headers={**owner.headers, "Range": "bytes=1000-"})
    assert past_the_end.status_code == 416
    assert past_the_end.headers["content-range"] == "bytes */1000"
    assert errors_of(past_the_end) == ["range"]

    cached = api.get(path, headers={**owner.headers, "If-None-Match": etag})
    assert (cached.status_code, cached.content) == (304, b"")
    assert cached.headers["etag"] == etag
    weak = api.get(path, headers={**owner.headers, "If-None-Match": f'"other", W/{etag}'})
    assert weak.status_code == 304
    stale = api.get(path, headers={**owner.headers, "If-None-Match": '"other"'})
    assert (stale.status_code, stale.content) == (200, data)


def test_a_multipart_upload_names_its_file_and_purpose_in_the_form(
    api: httpx.Client, rows: FileRows
) -> None:
    owner = Uploader.register(api)
    picture = png((32, 32))
    uploaded = api.post(
        "/api/files",
        data={"purpose": "avatar"},
        files={"file": ("me.png", picture, "application/pdf")},
        headers=owner.headers,
    )
    assert uploaded.status_code == 201, uploaded.text
    file = uploaded.json()["file"]
    assert (file["purpose"], file["name"], file["contentType"], file["size"]) == (
        "avatar",
        "me.png",
        "image/png",
        len(picture),
    )
    read = api.get(f"/api/files/{file['id']}", headers=owner.headers)
    assert (read.status_code, read.content) == (200, picture)
    assert read.headers["content-type"] == "image/png"
    assert (
        read.headers["content-disposition"]
        == "inline; filename=\"me.png\"; filename*=UTF-8''me.png"
    )
    assert rows.of(owner.name) == [(file["id"], "ready", f"files/{file['id']}")]


def test_a_direct_upload_to_local_storage_goes_through_the_signed_api_url(
    api: httpx.Client, local: Served, rows: FileRows
) -> None:
    owner = Uploader.register(api)
    data = text_of(3000, "direct")
    started = start_direct(api, owner, data)
    file_id, upload = started["file"]["id"], started["upload"]
    assert upload["url"].startswith(f"{local.base_url}/api/files/{file_id}/content?expires=")
    assert upload["headers"] == {"Content-Type": "text/plain", "Content-Length": "3000"}
    complete = f"/api/files/{file_id}/complete"

    early = api.post(complete, headers=owner.headers)
    assert (early.status_code, errors_of(early)) == (409, ["file"])
    forged = httpx.put(upload["url"].replace("signature=", "signature=x"), content=data)
    assert forged.status_code == 403
    other_bytes = put_to(upload, text_of(3000, "swapped"))
    assert other_bytes.status_code == 422, other_bytes.text
    other_type = put_to(upload, data, **{"Content-Type": "application/zip"})
    assert other_type.status_code == 415
    assert f"files/{file_id}" not in local_objects(local.storage)
    assert part_files(local.storage) == []
    assert rows.of(owner.name) == [(file_id, "pending", f"files/{file_id}")]

    assert put_to(upload, data).status_code == 204
    completed = api.post(complete, headers=owner.headers)
    assert completed.status_code == 200, completed.text
    assert (completed.json()["file"]["status"], completed.json()["file"]["sha256"]) == (
        "ready",
        sha256_of(data),
    )
    assert api.get(f"/api/files/{file_id}", headers=owner.headers).content == data
    assert put_to(upload, data).status_code == 404, "the URL takes nothing once completed"
    assert rows.of(owner.name) == [(file_id, "ready", f"files/{file_id}")]


# --- avatars and article images --------------------------------------------------------------


def test_an_avatar_is_public_only_as_its_metadata_free_thumbnail(
    api: httpx.Client, local: Served
) -> None:
    owner, stranger = Uploader.register(api), Uploader.register(api)
    original = jpeg_with_exif()
    assert EXIF_MARKER.encode() in original
    file_id = owner.uploaded(api, original, purpose="avatar", name="me.jpg")["id"]
    thumbnail_url = f"{local.base_url}/api/files/{file_id}/thumbnail"

    chosen = api.put(
        "/api/user/avatar", json={"avatar": {"fileId": file_id}}, headers=owner.headers
    )
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["user"]["image"] == thumbnail_url
    assert api.get("/api/user", headers=owner.headers).json()["user"]["image"] == thumbnail_url
    profile = api.get(f"/api/profiles/{owner.name}").json()["profile"]
    assert profile["image"] == thumbnail_url

    anonymous = thumbnail_when_made(api, file_id)
    assert_clean_webp(anonymous, (64, 48))
    assert anonymous.headers["cache-control"] == "public, max-age=300"
    assert anonymous.headers["content-security-policy"] == DOWNLOAD_POLICY
    assert httpx.get(thumbnail_url, timeout=10).content == anonymous.content

    for reader in ({}, stranger.headers):
        hidden = api.get(f"/api/files/{file_id}", headers=reader)
        assert (hidden.status_code, hidden.json()) == (404, NOT_FOUND)
    own = api.get(f"/api/files/{file_id}", headers=owner.headers)
    assert (own.status_code, own.content) == (200, original), "the owner gets the original"


def test_article_images_are_public_while_attached_and_go_with_the_article(
    api: httpx.Client, local: Served, rows: FileRows
) -> None:
    author, other = Uploader.register(api), Uploader.register(api)
    slug = publish(api, author)
    images = [
        author.uploaded(api, png((48, 36)), purpose="article_image", name=f"p{n}.png")["id"]
        for n in range(2)
    ]
    others = other.uploaded(api, png(), purpose="article_image", name="theirs.png")["id"]
    path = f"/api/articles/{slug}/images"

    not_author = api.put(path, json={"images": [others]}, headers=other.headers)
    assert not_author.status_code == 403
    not_theirs = api.put(path, json={"images": [images[0], others]}, headers=author.headers)
    assert (not_theirs.status_code, not_theirs.json()) == (404, NOT_FOUND)
    hidden = api.get(f"/api/files/{images[0]}/thumbnail")
    assert hidden.status_code == 404, "an image no article shows is private"
    attached = api.put(path, json={"images": images}, headers=author.headers)
    assert attached.status_code == 200, attached.text

    listed = api.get(path)
    assert listed.status_code == 200
    assert [image["id"] for image in listed.json()["images"]] == images
    for image_id in images:
        assert_clean_webp(thumbnail_when_made(api, image_id), (48, 36))
        assert api.get(f"/api/files/{image_id}").json() == NOT_FOUND, "the original stays private"

    assert api.delete(f"/api/articles/{slug}", headers=author.headers).status_code == 204
    statuses = wait_for(
        lambda: [rows.status(image_id) for image_id in images],
        lambda found: found == ["deleted", "deleted"],
    )
    assert statuses == ["deleted", "deleted"], "article.deleted is relayed and handled"
    for image_id in images:
        assert api.get(f"/api/files/{image_id}/thumbnail").status_code == 404
        assert api.get(f"/api/files/{image_id}", headers=author.headers).json() == NOT_FOUND
    gone = {f"files/{image_id}" for image_id in images} | {
        f"thumbnails/{image_id}.webp" for image_id in images
    }
    left = wait_for(
        lambda: gone & local_objects(local.storage), lambda still_there: not still_there
    )
    assert left == set(), "the bytes and thumbnails are removed once the deletion commits"
    assert rows.status(others) == "ready"


# --- who may do what ---------------------------------------------------------------------------


def test_only_the_owner_reads_and_the_owner_or_a_moderator_deletes(
    api: httpx.Client, local: Served, rows: FileRows, tmp_path: Path
) -> None:
    alice, bob, moderator = (Uploader.register(api) for _ in range(3))
    promoted = run_portico(
        "users", "set-role", moderator.name, "moderator", env=local.env, cwd=tmp_path
    )
    assert promoted.returncode == 0, promoted.stderr
    private = alice.uploaded(api, text_of(100, "private"), name="private.txt")["id"]
    avatar = alice.uploaded(api, png(), purpose="avatar", name="alice.png")["id"]
    api.put(
        "/api/user/avatar", json={"avatar": {"fileId": avatar}}, headers=alice.headers
    ).raise_for_status()

    for method, path in (
        ("GET", f"/api/files/{private}"),
        ("GET", f"/api/files/{private}/thumbnail"),
        ("DELETE", f"/api/files/{private}"),
        ("POST", f"/api/files/{private}/complete"),
    ):
        refused = api.request(method, path, headers=bob.headers)
        assert (refused.status_code, refused.json()) == (404, NOT_FOUND), (method, path)
    assert api.get(f"/api/files/{private}").json() == NOT_FOUND
    assert api.delete(f"/api/files/{private}").status_code == 401
    hijack = api.put("/api/user/avatar", json={"avatar": {"fileId": avatar}}, headers=bob.headers)
    assert (hijack.status_code, hijack.json()) == (404, NOT_FOUND)

    public = api.delete(f"/api/files/{avatar}", headers=bob.headers)
    assert (public.status_code, public.json()) == (
        403,
        {"errors": {"file": ["belongs to another user"]}},
    )
    assert rows.status(private) == rows.status(avatar) == "ready"
    assert api.get(f"/api/files/{private}", headers=alice.headers).status_code == 200

    assert api.delete(f"/api/files/{avatar}", headers=moderator.headers).status_code == 204
    assert api.delete(f"/api/files/{private}", headers=moderator.headers).status_code == 204
    assert rows.status(avatar) == rows.status(private) == "deleted"
    assert api.get(f"/api/files/{avatar}", headers=alice.headers).json() == NOT_FOUND
    assert api.get("/api/user", headers=alice.headers).json()["user"]["image"] is None
    again = api.delete(f"/api/files/{private}", headers=alice.headers)
    assert (again.status_code, again.json()) == (404, NOT_FOUND)


# --- refusals ----------------------------------------------------------------------------------


class Refusal(NamedTuple):
    purpose: str
    name: str
    content_type: str
    body: bytes
    status: int
    key: str


GIF_WITH_SCRIPT = image_bytes("GIF", size=(8, 8)) + b"<script>alert(document.cookie)</script>"
REFUSALS = {
    "a PDF sent as image/png": Refusal(
        "avatar", "me.png", "image/png", b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", 415, "content_type"
    ),
    "a GIF that is also a page": Refusal(
        "avatar", "me.gif", "image/gif", GIF_WITH_SCRIPT, 415, "content_type"
    ),
    "a decompression bomb": Refusal(
        "avatar", "bomb.png", "image/png", png_declaring(100_000, 100_000), 422, "file"
    ),
    "an empty file": Refusal("attachment", "empty.txt", "text/plain", b"", 422, "file"),
    "a name with ../": Refusal(
        "attachment", "../../etc/passwd", "text/plain", b"root", 422, "name"
    ),
    "a name with NUL": Refusal("attachment", "a\x00.txt", "text/plain", b"text", 422, "name"),
    "a name with U+202E": Refusal(
        "attachment", "invoice\u202etxt.exe", "text/plain", b"text", 422, "name"
    ),
    "a name with CR LF": Refusal(
        "attachment", "a\r\nSet-Cookie: x=1.txt", "text/plain", b"text", 422, "name"
    ),
}


@pytest.mark.parametrize("refusal", REFUSALS.values(), ids=REFUSALS.keys())
def test_a_refused_upload_is_a_4xx_and_stores_nothing(
    api: httpx.Client, local: Served, rows: FileRows, refusal: Refusal
) -> None:
    owner = Uploader.register(api)
    stored_before = local_objects(local.storage)
    response = owner.upload(
        api,
        refusal.body,
        purpose=refusal.purpose,
        name=refusal.name,
        content_type=refusal.content_type,
    )
    assert response.status_code == refusal.status, response.text
    assert errors_of(response) == [refusal.key]
    assert rows.of(owner.name) == []
    assert local_objects(local.storage) == stored_before
    assert part_files(local.storage) == []


def test_a_body_declared_past_the_limit_is_refused_before_it_is_sent(
    local: Served, api: httpx.Client, rows: FileRows
) -> None:
    owner = Uploader.register(api)
    raw = RawUpload(
        local.base_url,
        upload_path("attachment", "huge.txt"),
        {**owner.headers, "Content-Type": "text/plain"},
    )
    try:
        raw.send_head(declared=10 * 1024**3)
        status, body = raw.response()
    finally:
        raw.close()
    assert (status, list(json.loads(body)["errors"])) == (413, ["file"])
    assert rows.of(owner.name) == []
    assert part_files(local.storage) == []


def test_a_chunked_body_past_the_limit_is_cut_off_and_stores_nothing(
    local: Served, api: httpx.Client, rows: FileRows
) -> None:
    owner = Uploader.register(api)
    stored_before = local_objects(local.storage)
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        chunk = text_of(64 * KIB, "chunked")
        while sent <= ATTACHMENT_MAX + 256 * KIB:
            sent += len(chunk)
            yield chunk

    try:
        response = api.post(
            "/api/files",
            params={"purpose": "attachment", "name": "stream.txt"},
            content=body(),
            headers={**owner.headers, "Content-Type": "text/plain"},
        )
    except httpx.TransportError:
        pytest.fail("the server closed the connection without answering 413")
    assert "content-length" not in response.request.headers, "the body went chunked"
    assert (response.status_code, errors_of(response)) == (413, ["file"])
    assert rows.of(owner.name) == []
    assert local_objects(local.storage) == stored_before
    assert wait_for(lambda: part_files(local.storage), lambda parts: not parts) == []


def test_the_quota_holds_for_declared_streamed_and_announced_files(
    local: Served, api: httpx.Client, rows: FileRows
) -> None:
    owner = Uploader.register(api)
    first = owner.uploaded(api, text_of(ATTACHMENT_MAX, "quota"), name="big.txt")["id"]
    stored_before = local_objects(local.storage)
    over = text_of(QUOTA - ATTACHMENT_MAX + 1, "over")

    declared = owner.upload(api, over, name="over.txt", content_type="text/plain")
    assert (declared.status_code, errors_of(declared)) == (413, ["quota"])
    streamed = api.post(
        "/api/files",
        params={"purpose": "attachment", "name": "streamed.txt"},
        content=iter([over[: len(over) // 2], over[len(over) // 2 :]]),
        headers=owner.headers,
    )
    assert (streamed.status_code, errors_of(streamed)) == (413, ["quota"])
    announced = {
        "purpose": "attachment",
        "name": "later.txt",
        "size": len(over),
        "contentType": "text/plain",
        "sha256": sha256_of(over),
    }
    started = api.post("/api/files/uploads", json={"upload": announced}, headers=owner.headers)
    assert (started.status_code, errors_of(started)) == (413, ["quota"])

    assert rows.of(owner.name) == [(first, "ready", f"files/{first}")]
    assert local_objects(local.storage) == stored_before
    assert part_files(local.storage) == []
    fits = owner.upload(api, over[:-1], name="fits.txt")
    assert fits.status_code == 201, "the quota is reached, not exceeded"


# --- crash safety of the local adapter ---------------------------------------------------------


def test_a_client_that_leaves_mid_upload_leaves_no_record_and_no_part(
    local: Served, api: httpx.Client, rows: FileRows
) -> None:
    owner = Uploader.register(api)
    stored_before = local_objects(local.storage)
    raw = RawUpload(
        local.base_url,
        upload_path("attachment", "left.txt"),
        {**owner.headers, "Content-Type": "text/plain"},
    )
    try:
        raw.send_head(declared=ATTACHMENT_MAX)
        raw.send(text_of(2 * MIB, "left"))
        begun = wait_for(lambda: part_files(local.storage), bool)
        assert begun, "the upload reached storage before the client left"
    finally:
        raw.close()
    assert wait_for(lambda: part_files(local.storage), lambda parts: not parts, within=5) == []
    assert rows.of(owner.name) == []
    assert local_objects(local.storage) == stored_before
    assert api.get("/health/live").status_code == 200
    assert "client disconnected on POST /api/files" in local.server.log()
    assert server_failures(local.server.log()) == [], "no refusal or disconnect is a failure"


# --- S3: presigned uploads and downloads -------------------------------------------------------


@pytest.fixture(scope="module")
def s3(
    migrated_url: str, s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Served, str]]:
    """A server on a fresh bucket of the moto server; the bucket's name."""
    bucket = f"portico-e2e-{uuid.uuid4().hex[:12]}"
    create_bucket(s3_endpoint, bucket)
    port, data_dir = free_port(), tmp_path_factory.mktemp("files-s3-data")
    env = server_env(
        migrated_url,
        data_dir,
        port,
        STORAGE_BACKEND="s3",
        S3_ENDPOINT_URL=s3_endpoint,
        S3_BUCKET=bucket,
        S3_REGION=REGION,
        S3_ACCESS_KEY_ID=ACCESS_KEY_ID,
        S3_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY,
        OUTBOX_RELAY_IN_API="false",
    )
    with portico_server(port, env, tmp_path_factory.mktemp("files-s3")) as server:
        yield Served(server, env, data_dir / "uploads"), bucket


@pytest.fixture
def s3_api(s3: tuple[Served, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=s3[0].base_url, timeout=10) as client:
        yield client


def test_a_presigned_upload_to_s3_is_completed_and_read_through_a_presigned_get(
    s3_api: httpx.Client, s3: tuple[Served, str], s3_endpoint: str, rows: FileRows
) -> None:
    api, bucket = s3_api, s3[1]
    owner = Uploader.register(api)
    data = text_of(5000, "presigned")
    started = start_direct(api, owner, data)
    file_id, upload = started["file"]["id"], started["upload"]
    assert urlsplit(upload["url"]).netloc == urlsplit(s3_endpoint).netloc
    assert set(upload["headers"]) == {"Content-Length", "Content-Type", "x-amz-checksum-sha256"}
    stored = put_to(upload, data)
    assert stored.status_code == 200, stored.text
    completed = api.post(f"/api/files/{file_id}/complete", headers=owner.headers)
    assert completed.status_code == 200, completed.text
    assert completed.json()["file"]["status"] == "ready"
    assert rows.status(file_id) == "ready"

    read = api.get(f"/api/files/{file_id}", headers=owner.headers)
    assert read.status_code == 307
    assert read.headers["cache-control"] == "no-store"
    location = read.headers["location"]
    assert urlsplit(location).netloc == urlsplit(s3_endpoint).netloc
    from_bucket = httpx.get(location, timeout=10)
    assert (from_bucket.status_code, from_bucket.content) == (200, data)
    assert api.get(f"/api/files/{file_id}").json() == NOT_FOUND

    through_api = owner.uploaded(api, text_of(700, "api"), name="api.txt")["id"]
    redirected = api.get(f"/api/files/{through_api}", headers=owner.headers)
    assert redirected.status_code == 307
    assert httpx.get(redirected.headers["location"], timeout=10).content == text_of(700, "api")
    keys = s3_object_keys(s3_endpoint, bucket)
    assert {f"files/{file_id}", f"files/{through_api}"} <= keys


def test_s3_refuses_other_bytes_and_an_expired_url_and_completing_nothing_is_409(
    s3_api: httpx.Client, s3: tuple[Served, str], s3_endpoint: str, rows: FileRows
) -> None:
    api, bucket = s3_api, s3[1]
    owner = Uploader.register(api)
    expiring = start_direct(api, owner, text_of(500, "late"), name="late.txt")
    swapped = start_direct(api, owner, text_of(800, "announced"), name="swapped.txt")
    upload = swapped["upload"]

    other_bytes = put_to(upload, text_of(800, "other"))
    assert other_bytes.status_code == 400
    assert b"BadDigest" in other_bytes.content
    other_length = put_to(upload, text_of(801, "announced"), **{"Content-Length": "801"})
    assert other_length.status_code == 403
    assert b"SignatureDoesNotMatch" in other_length.content
    other_type = put_to(upload, text_of(800, "announced"), **{"Content-Type": "text/html"})
    assert other_type.status_code == 403
    assert b"SignatureDoesNotMatch" in other_type.content

    expires_at = datetime.fromisoformat(expiring["upload"]["expiresAt"])
    time.sleep(max(0.0, expires_at.timestamp() - time.time()) + 1.5)
    late = put_to(expiring["upload"], text_of(500, "late"))
    assert late.status_code == 403
    assert b"Request has expired" in late.content

    pending = [swapped["file"]["id"], expiring["file"]["id"]]
    for file_id in pending:
        nothing = api.post(f"/api/files/{file_id}/complete", headers=owner.headers)
        assert (nothing.status_code, errors_of(nothing)) == (409, ["file"])
        assert rows.status(file_id) == "pending", "the upload may still be retried"
    assert not {f"files/{file_id}" for file_id in pending} & s3_object_keys(s3_endpoint, bucket)


# --- crash safety: a server killed mid-upload (runs last: its gc clears deleted records) -------


def test_a_server_killed_mid_upload_leaves_only_a_part_that_gc_removes_once_old(
    migrated_url: str, tmp_path_factory: pytest.TempPathFactory, rows: FileRows, tmp_path: Path
) -> None:
    port, data_dir = free_port(), tmp_path_factory.mktemp("files-killed-data")
    storage = data_dir / "uploads"
    env = server_env(
        migrated_url,
        data_dir,
        port,
        STORAGE_LOCAL_DIR=str(storage),
        OUTBOX_RELAY_IN_API="false",
    )
    with portico_server(port, env, tmp_path_factory.mktemp("files-killed")) as server:
        with httpx.Client(base_url=server.base_url, timeout=10) as api:
            owner = Uploader.register(api)
        raw = RawUpload(
            server.base_url,
            upload_path("attachment", "killed.txt"),
            {**owner.headers, "Content-Type": "text/plain"},
        )
        try:
            raw.send_head(declared=ATTACHMENT_MAX)
            raw.send(text_of(3 * MIB, "killed"))
            written = wait_for(
                lambda: [part.stat().st_size for part in part_files(storage)],
                lambda sizes: bool(sizes) and sizes[0] >= MIB,
            )
            assert written, "the upload reached storage"
            assert written[0] >= MIB, "part of the body reached the disk"
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=10)
        finally:
            raw.close()

    assert not any(key.startswith("files/") for key in local_objects(storage))
    assert rows.of(owner.name) == []
    parts = part_files(storage)
    assert len(parts) == 1, "only a process that dies mid-put leaves its part"

    hours_ago = time.time() - 2 * 3600
    os.utime(parts[0], (hours_ago, hours_ago))
    young = run_portico("files", "gc", env=env, cwd=tmp_path)
    assert young.returncode == 0, young.stderr
    assert part_files(storage) == parts, "a part younger than the grace (a day) may be live"

    long_ago = time.time() - ORPHAN_GRACE_SECONDS - 3600
    os.utime(parts[0], (long_ago, long_ago))
    old = run_portico("files", "gc", env=env, cwd=tmp_path)
    assert old.returncode == 0, old.stderr
    assert part_files(storage) == []
    assert not any(key.startswith("files/") for key in local_objects(storage))
