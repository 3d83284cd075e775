"""Files, direct uploads, avatars and article images, as they cross the wire.

Two kinds of statement live here. The structs are the JSON bodies, as elsewhere. The
operations (`RawUploadOperation`, `DirectContentOperation`, `FileDownloadOperation`) say in
the OpenAPI document what Litestar cannot read from a handler's signature: a body the
handler streams itself instead of declaring it as ``data``, and answers that are the file's
own bytes, in its own type, whole or in part.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

import msgspec
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Reference,
    RequestBody,
    Schema,
)
from msgspec import Meta

from application.files.attach_article_images import ARTICLE_IMAGES_MAX
from application.files.read_file import THUMBNAIL_CONTENT_TYPE
from application.files.start_direct_upload import DirectUpload
from application.files.views import FileView
from domain.files.policy import ALLOWED_TYPES, LARGEST_FILE_BYTES
from domain.files.values import FILE_NAME_MAX_BYTES, SHA256_HEX_LENGTH, FilePurpose, FileStatus
from entrypoints.http.openapi import DocumentedOperation
from entrypoints.http.schemas.constraints import END_OF_TEXT, PRINTABLE_TEXT, stated
from entrypoints.http.schemas.users import RequestBody as ClosedRequestBody

FILE_NAME_PATTERN = rf"^(?![\s\S]*[/\\])(?!\s*\.\.?\s*{END_OF_TEXT})" + PRINTABLE_TEXT.removeprefix(
    "^"
)
"""A name `FileName` keeps: printable, not blank, no path separator, not ``.`` or ``..``."""
FILE_NAME_DESCRIPTION = (
    f"The file's name, only ever displayed: printable, at most {FILE_NAME_MAX_BYTES} bytes of "
    "UTF-8, no `/` or `\\`, not `.` or `..`; no control or format characters (NUL, U+202E)."
)
SHA256_PATTERN = rf"^[0-9a-fA-F]{{{SHA256_HEX_LENGTH}}}{END_OF_TEXT}"
ACCEPTED_TYPES = tuple(sorted(frozenset().union(*ALLOWED_TYPES.values())))
"""Every type a file may turn out to be, whatever its purpose."""
SERVED_TYPES = tuple(sorted({*ACCEPTED_TYPES, THUMBNAIL_CONTENT_TYPE}))
"""Every type a download is answered in: the file's own, or its thumbnail's."""
MULTIPART = "multipart/form-data"
OCTET_STREAM = "application/octet-stream"

FileNameText = Annotated[
    str,
    Meta(
        max_length=FILE_NAME_MAX_BYTES,
        extra_json_schema=stated(min_length=1, pattern=FILE_NAME_PATTERN),
        description=FILE_NAME_DESCRIPTION,
    ),
]
AnnouncedSize = Annotated[
    int,
    Meta(
        le=LARGEST_FILE_BYTES,
        extra_json_schema=stated(minimum=1),
        description="The exact size in bytes; the purpose's limit and the caller's quota apply "
        "(413 when over either).",
    ),
]
AnnouncedType = Annotated[
    str,
    Meta(
        max_length=255,
        extra_json_schema=stated(enum=list(ACCEPTED_TYPES)),
        description="The type the bytes will turn out to be; the purpose decides which it "
        "takes (415 otherwise), and completing the upload checks the bytes.",
    ),
]
Sha256Text = Annotated[
    str,
    Meta(pattern=SHA256_PATTERN, description="The file's SHA-256, 64 hexadecimal digits."),
]
ImageIds = Annotated[
    list[UUID],
    Meta(
        max_length=ARTICLE_IMAGES_MAX,
        extra_json_schema=stated(unique_items=True),
        description=f"The caller's `article_image` files, at most {ARTICLE_IMAGES_MAX}, each "
        "once, in the order the article shows them; an empty list detaches them all.",
    ),
]


class NewDirectUpload(ClosedRequestBody):
    """What the client will upload to the URL it gets back."""

    purpose: FilePurpose
    name: FileNameText
    size: AnnouncedSize
    content_type: AnnouncedType = msgspec.field(name="contentType")
    sha256: Sha256Text


class NewDirectUploadRequest(ClosedRequestBody):
    """``{"upload": {...}}`` for POST /api/files/uploads."""

    upload: NewDirectUpload


class AvatarChoice(ClosedRequestBody):
    """Which of the caller's ready `avatar` files the profile shows."""

    file_id: UUID = msgspec.field(name="fileId")


class SetAvatarRequest(ClosedRequestBody):
    """``{"avatar": {"fileId": "..."}}`` for PUT /api/user/avatar."""

    avatar: AvatarChoice


class ArticleImagesRequest(ClosedRequestBody):
    """``{"images": ["<file id>", ...]}`` for PUT /api/articles/{slug}/images."""

    images: ImageIds


class File(msgspec.Struct, kw_only=True, rename="camel"):
    """A file as its owner and readers see it; `url` reads its bytes."""

    id: UUID
    purpose: FilePurpose
    name: str
    content_type: str
    size: int
    sha256: str
    status: FileStatus
    url: str
    thumbnail_url: str | None
    article_id: UUID | None
    created_at: datetime

    @classmethod
    def of(cls, view: FileView) -> "File":
        """Translate the use case's view; the timestamp in UTC."""
        return cls(
            id=UUID(view.id),
            purpose=FilePurpose(view.purpose),
            name=view.name,
            content_type=view.content_type,
            size=view.size,
            sha256=view.sha256,
            status=FileStatus(view.status),
            url=view.url,
            thumbnail_url=view.thumbnail_url,
            article_id=None if view.article_id is None else UUID(view.article_id),
            created_at=view.created_at.astimezone(UTC),
        )


class FileResponse(msgspec.Struct, kw_only=True):
    """``{"file": {...}}``."""

    file: File


class UploadRequest(msgspec.Struct, kw_only=True, rename="camel"):
    """The request that uploads the bytes: send exactly these `headers`, before `expiresAt`."""

    url: str
    method: str
    headers: dict[str, str]
    expires_at: datetime


class DirectUploadResponse(msgspec.Struct, kw_only=True):
    """``{"file": {...}, "upload": {...}}``: the pending file and how to upload it."""

    file: File
    upload: UploadRequest

    @classmethod
    def of(cls, started: DirectUpload) -> "DirectUploadResponse":
        """Translate the started upload."""
        request = started.upload
        return cls(
            file=File.of(started.file),
            upload=UploadRequest(
                url=request.url,
                method=request.method,
                headers=dict(request.headers),
                expires_at=request.expires_at.astimezone(UTC),
            ),
        )


class ArticleImagesResponse(msgspec.Struct, kw_only=True):
    """``{"images": [...]}``, in the order the article shows them."""

    images: list[File]

    @classmethod
    def of(cls, views: Sequence[FileView]) -> "ArticleImagesResponse":
        """Translate the views."""
        return cls(images=[File.of(view) for view in views])


_BINARY = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)


def _text_header(description: str, *, required: bool = True) -> OpenAPIHeader:
    return OpenAPIHeader(
        schema=Schema(type=OpenAPIType.STRING), description=description, required=required
    )


def _binary_in(media_types: Sequence[str]) -> dict[str, OpenAPIMediaType]:
    return {media_type: OpenAPIMediaType(schema=_BINARY) for media_type in media_types}


@dataclass
class RawUploadOperation(DocumentedOperation):
    """POST /api/files: the file as the raw body, or as the one file of a form."""

    def __post_init__(self) -> None:
        """Add the body the handler streams."""
        super().__post_init__()
        form = Schema(
            type=OpenAPIType.OBJECT,
            properties={
                "purpose": Schema(
                    type=OpenAPIType.STRING,
                    enum=[purpose.value for purpose in FilePurpose],
                    description="What the file is for (`attachment` when left out); this "
                    "field comes before the file.",
                ),
                "file": Schema(
                    type=OpenAPIType.STRING,
                    format=OpenAPIFormat.BINARY,
                    description="The one file; its part's `filename` is the file's name.",
                ),
            },
            required=["file"],
            additional_properties=False,
        )
        self.request_body = RequestBody(
            required=True,
            description=(
                "The file's bytes, streamed: either the raw body, with `purpose` and `name` in "
                "the query, or `multipart/form-data` with a `purpose` field and then one file "
                "part. The body's own `Content-Type` is not trusted: the type is read from the "
                "bytes. A body over the purpose's limit is refused as soon as it passes it."
            ),
            content={
                OCTET_STREAM: OpenAPIMediaType(schema=_BINARY),
                MULTIPART: OpenAPIMediaType(schema=form),
            },
        )


@dataclass
class DirectContentOperation(DocumentedOperation):
    """PUT /api/files/{file_id}/content: the announced bytes, in the announced type."""

    def __post_init__(self) -> None:
        """Add the body the handler streams."""
        super().__post_init__()
        self.request_body = RequestBody(
            required=True,
            description=(
                "Exactly the announced bytes, with the announced `Content-Type` and "
                "`Content-Length`, as the upload's `headers` say."
            ),
            content=_binary_in(ACCEPTED_TYPES),
        )


@dataclass
class FileDownloadOperation(DocumentedOperation):
    """GET /api/files/{file_id} and its thumbnail: the bytes, whole or a range, or a redirect."""

    def __post_init__(self) -> None:
        """Describe the bytes, their headers, and the answers without a body."""
        super().__post_init__()
        etag = _text_header("The bytes' strong validator, for `If-None-Match`.")
        served: dict[str, OpenAPIHeader | Reference] = {
            "Content-Length": OpenAPIHeader(
                schema=Schema(type=OpenAPIType.INTEGER, minimum=0),
                description="The bytes in this answer.",
                required=True,
            ),
            "ETag": etag,
            "Accept-Ranges": _text_header("`bytes`: a single range may be asked for."),
            "Content-Disposition": _text_header(
                "`inline` for PNG, JPEG, GIF and WebP images, `attachment` for anything else, "
                "with the name as `filename` (ASCII) and `filename*` (UTF-8)."
            ),
            "Cache-Control": _text_header(
                "`public, max-age=300` for avatars and attached article images, "
                "`private, no-cache` for the rest."
            ),
        }
        responses = self.responses if self.responses is not None else {}
        responses["200"] = OpenAPIResponse(
            description="The whole file, in its own type (its thumbnail's: WebP).",
            content=_binary_in(SERVED_TYPES),
            headers=served,
        )
        responses["206"] = OpenAPIResponse(
            description="The one range asked for with `Range`.",
            content=_binary_in(SERVED_TYPES),
            headers={
                **served,
                "Content-Range": _text_header("`bytes <first>-<last>/<size>`."),
            },
        )
        responses["304"] = OpenAPIResponse(
            description="`If-None-Match` names the current `ETag`: the copy held is current.",
            headers={"ETag": etag},
        )
        responses["307"] = OpenAPIResponse(
            description="Storage serves the bytes itself: follow `Location`, a short-lived URL.",
            headers={"Location": _text_header("The presigned URL of the bytes.")},
        )
        unsatisfiable = responses.get("416")
        if isinstance(unsatisfiable, OpenAPIResponse):
            unsatisfiable.headers = {
                "Content-Range": _text_header("`bytes */<size>`: the size of the bytes.")
            }
        self.responses = responses
