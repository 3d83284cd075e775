"""Files: uploads through the API or direct to storage, reads, avatars and article images."""

from typing import Annotated, Any
from uuid import UUID

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.params import HeaderParameter, JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from application.common.permissions import Permission
from application.files.attach_article_images import (
    AttachArticleImages,
    AttachArticleImagesCommand,
)
from application.files.complete_direct_upload import (
    CompleteDirectUpload,
    CompleteDirectUploadCommand,
)
from application.files.delete_file import DeleteFile, DeleteFileCommand
from application.files.list_article_images import ListArticleImages, ListArticleImagesQuery
from application.files.read_file import ReadFile, ReadFileQuery
from application.files.receive_direct_upload import (
    ReceiveDirectUpload,
    ReceiveDirectUploadCommand,
)
from application.files.set_avatar import SetAvatar, SetAvatarCommand
from application.files.start_direct_upload import StartDirectUpload, StartDirectUploadCommand
from application.files.upload_file import UploadFile, UploadFileCommand
from domain.files.values import FILE_NAME_MAX_BYTES, FileId, FilePurpose
from entrypoints.http.auth import PUBLIC, Actor, OptionalActor, presented_token, requires
from entrypoints.http.downloads import DOWNLOAD_POLICY, download_response
from entrypoints.http.openapi import WRITE_CONFLICT, described_by, error_responses
from entrypoints.http.rate_limits import UPLOADS, limit_writes, write_route
from entrypoints.http.schemas.constraints import END_OF_TEXT
from entrypoints.http.schemas.files import (
    FILE_NAME_DESCRIPTION,
    FILE_NAME_PATTERN,
    ArticleImagesRequest,
    ArticleImagesResponse,
    DirectContentOperation,
    DirectUploadResponse,
    File,
    FileDownloadOperation,
    FileResponse,
    NewDirectUploadRequest,
    RawUploadOperation,
    SetAvatarRequest,
)
from entrypoints.http.schemas.users import User, UserResponse
from entrypoints.http.upload_bodies import body_chunks, declared_length, media_type, upload_body

_WRITE = requires(Permission.WRITE_CONTENT)
_UPLOAD = write_route(UPLOADS, Permission.WRITE_CONTENT)
_DOWNLOAD = {**PUBLIC, "content_security_policy": DOWNLOAD_POLICY}
_NO_FILE = "No file has this id that the caller may see (another user's private file reads so)."
_TOO_LARGE = (
    "The file is larger than its purpose allows (FILES_*_MAX_BYTES), or would take the "
    "caller past their quota (FILES_QUOTA_BYTES); the envelope says which."
)
_UNSUPPORTED = (
    "The bytes are not of a type the purpose takes, whatever `Content-Type` said: the type "
    "is read from them, and markup (HTML, SVG) is refused in any file."
)
_READ_ERRORS = error_responses(
    not_found=f"{_NO_FILE} The thumbnail is not made yet, or the file is not an image.",
    range_not_satisfiable="`Range` starts past the end of the bytes.",
)
_PURPOSE = Parameter(
    default=None,
    description="What a raw body is for (`attachment` when left out); a form says it in its "
    "`purpose` field, and this is not read.",
)
_NAME = Parameter(
    default=None,
    max_length=FILE_NAME_MAX_BYTES,
    schema_extra={"minLength": 1, "pattern": FILE_NAME_PATTERN},
    description=f"A raw body's name (`upload` with its type's extension when left out). "
    f"{FILE_NAME_DESCRIPTION} A form names its file with the part's `filename`, and this is "
    "not read.",
)
_EXPIRES = Parameter(description="The URL's expiry, as the upload URL gives it.")
_SIGNATURE = Parameter(
    max_length=512,
    pattern=rf"^[!-~]*{END_OF_TEXT}",
    description="The URL's signature, as the upload URL gives it: printable ASCII.",
)
RangeHeader = Annotated[
    str | None,
    HeaderParameter(
        name="Range",
        description="One range of bytes: `bytes=<first>-<last>`, `bytes=<first>-` or "
        "`bytes=-<suffix length>`. Several ranges get the whole file.",
    ),
]
IfNoneMatchHeader = Annotated[
    str | None,
    HeaderParameter(
        name="If-None-Match",
        description="ETags of copies held, or `*`: 304 when one is current.",
    ),
]


class FilesController(Controller):
    """Upload, read and delete files; direct uploads start, receive and complete here."""

    path = "/api/files"
    tags = ["files"]  # noqa: RUF012 - Litestar reads this class attribute
    guards = [limit_writes]  # noqa: RUF012 - counts the routes naming a write_route rule

    @post(
        status_code=HTTP_201_CREATED,
        opt=_UPLOAD,
        request_max_body_size=None,
        operation_class=RawUploadOperation,
        summary="Upload a file",
        description=described_by(UploadFile),
        responses=error_responses(
            content_too_large=_TOO_LARGE,
            unsupported_media_type=_UNSUPPORTED,
            unprocessable="The file is empty or its name breaks a rule (a path, NUL, a "
            "direction override); an image is broken or has too many pixels.",
            conflict=WRITE_CONFLICT,
        ),
    )
    @inject
    async def upload(
        self,
        request: Request[Any, Any, Any],
        actor: Actor,
        upload_file: FromDishka[UploadFile],
        purpose: FilePurpose | None = _PURPOSE,
        name: str | None = _NAME,
    ) -> FileResponse:
        body = await upload_body(request, purpose=purpose, name=name)
        view = await upload_file(
            UploadFileCommand(
                actor=actor,
                purpose=body.purpose,
                name=body.name,
                chunks=body.chunks,
                declared_size=body.declared_size,
            )
        )
        return FileResponse(file=File.of(view))

    @post(
        "/uploads",
        status_code=HTTP_201_CREATED,
        opt=_UPLOAD,
        summary="Start a direct upload",
        description=described_by(StartDirectUpload),
        response_description="The pending file, and the request that uploads its bytes.",
        responses=error_responses(
            content_too_large=_TOO_LARGE,
            unsupported_media_type="`contentType` is not a type the purpose takes.",
            conflict=WRITE_CONFLICT,
        ),
    )
    @inject
    async def start_direct_upload(
        self,
        actor: Actor,
        data: JSONBody[NewDirectUploadRequest],
        start_direct_upload: FromDishka[StartDirectUpload],
    ) -> DirectUploadResponse:
        announced = data.upload
        started = await start_direct_upload(
            StartDirectUploadCommand(
                actor=actor,
                purpose=announced.purpose,
                name=announced.name,
                size=announced.size,
                content_type=announced.content_type,
                sha256=announced.sha256,
            )
        )
        return DirectUploadResponse.of(started)

    @put(
        "/{file_id:uuid}/content",
        status_code=HTTP_204_NO_CONTENT,
        opt=PUBLIC,
        request_max_body_size=None,
        operation_class=DirectContentOperation,
        summary="Upload a direct upload's bytes",
        description=described_by(ReceiveDirectUpload),
        responses=error_responses(
            forbidden="The URL's signature does not match, or it has expired.",
            not_found="No direct upload in progress has this id.",
            content_too_large="`Content-Length` is not the announced size, or more bytes came.",
            unsupported_media_type="`Content-Type` is not the announced type, or the bytes "
            "are not of a type the purpose takes.",
            unprocessable="The bytes' SHA-256 is not the one announced, or they break a rule "
            "of the purpose (an empty file, a broken image, too many pixels).",
        ),
    )
    @inject
    async def receive_direct_upload(
        self,
        request: Request[Any, Any, Any],
        file_id: UUID,
        receive_direct_upload: FromDishka[ReceiveDirectUpload],
        expires: int = _EXPIRES,
        signature: str = _SIGNATURE,
    ) -> None:
        await receive_direct_upload(
            ReceiveDirectUploadCommand(
                file_id=FileId(file_id),
                expires=expires,
                signature=signature,
                content_type=media_type(request),
                declared_size=declared_length(request),
                chunks=body_chunks(request),
            )
        )

    @post(
        "/{file_id:uuid}/complete",
        status_code=HTTP_200_OK,
        opt=_WRITE,
        summary="Complete a direct upload",
        description=described_by(CompleteDirectUpload),
        responses=error_responses(
            not_found="None of the caller's files in progress has this id.",
            conflict="Nothing was uploaded to the upload URL yet, or the upload was rejected "
            f"already. {WRITE_CONFLICT}",
            content_too_large=_TOO_LARGE,
            unsupported_media_type=_UNSUPPORTED,
            unprocessable="The uploaded object is not the file announced (another size or "
            "SHA-256), or breaks a rule of its purpose; the file is rejected.",
        ),
    )
    @inject
    async def complete_direct_upload(
        self,
        file_id: UUID,
        actor: Actor,
        complete_direct_upload: FromDishka[CompleteDirectUpload],
    ) -> FileResponse:
        view = await complete_direct_upload(
            CompleteDirectUploadCommand(actor=actor, file_id=FileId(file_id))
        )
        return FileResponse(file=File.of(view))

    @get(
        "/{file_id:uuid}",
        opt=_DOWNLOAD,
        operation_class=FileDownloadOperation,
        summary="Read a file",
        description=described_by(ReadFile),
        responses=_READ_ERRORS,
    )
    @inject
    async def read_file(
        self,
        file_id: UUID,
        actor: OptionalActor,
        read_file: FromDishka[ReadFile],
        range_header: RangeHeader = None,
        if_none_match: IfNoneMatchHeader = None,
    ) -> Response[Any]:
        download = await read_file(
            ReadFileQuery(reader=None if actor is None else actor.user_id, file_id=FileId(file_id))
        )
        return await download_response(
            download, thumbnail=False, range_header=range_header, if_none_match=if_none_match
        )

    @get(
        "/{file_id:uuid}/thumbnail",
        opt=_DOWNLOAD,
        operation_class=FileDownloadOperation,
        summary="Read an image's thumbnail",
        description=described_by(ReadFile),
        responses=_READ_ERRORS,
    )
    @inject
    async def read_thumbnail(
        self,
        file_id: UUID,
        actor: OptionalActor,
        read_file: FromDishka[ReadFile],
        range_header: RangeHeader = None,
        if_none_match: IfNoneMatchHeader = None,
    ) -> Response[Any]:
        download = await read_file(
            ReadFileQuery(
                reader=None if actor is None else actor.user_id,
                file_id=FileId(file_id),
                thumbnail=True,
            )
        )
        return await download_response(
            download, thumbnail=True, range_header=range_header, if_none_match=if_none_match
        )

    @delete(
        "/{file_id:uuid}",
        status_code=HTTP_204_NO_CONTENT,
        opt=_WRITE,
        summary="Delete a file",
        description=described_by(DeleteFile),
        responses=error_responses(
            forbidden="The file is another user's, readable by the caller, who is no moderator.",
            not_found=_NO_FILE,
            conflict=WRITE_CONFLICT,
        ),
    )
    @inject
    async def delete_file(
        self, file_id: UUID, actor: Actor, delete_file: FromDishka[DeleteFile]
    ) -> None:
        await delete_file(DeleteFileCommand(actor=actor, file_id=FileId(file_id)))


class ArticleImagesController(Controller):
    """The images an article carries."""

    path = "/api/articles/{slug:str}/images"
    tags = ["articles"]  # noqa: RUF012 - Litestar reads this class attribute

    @get(
        opt=PUBLIC,
        summary="List an article's images",
        description=described_by(ListArticleImages),
        responses=error_responses(not_found="No article has this slug."),
    )
    @inject
    async def list_images(
        self, slug: str, list_article_images: FromDishka[ListArticleImages]
    ) -> ArticleImagesResponse:
        views = await list_article_images(ListArticleImagesQuery(slug=slug))
        return ArticleImagesResponse.of(views)

    @put(
        opt=_WRITE,
        summary="Choose an article's images",
        description=described_by(AttachArticleImages),
        responses=error_responses(
            forbidden="Only the article's author may.",
            not_found="No article has this slug, or an image is none of the caller's files.",
            unprocessable="More images than an article carries, or one listed twice.",
            conflict=f"An image is not a ready `article_image`. {WRITE_CONFLICT}",
        ),
    )
    @inject
    async def attach_images(
        self,
        slug: str,
        actor: Actor,
        data: JSONBody[ArticleImagesRequest],
        attach_article_images: FromDishka[AttachArticleImages],
    ) -> ArticleImagesResponse:
        views = await attach_article_images(
            AttachArticleImagesCommand(
                actor=actor, slug=slug, file_ids=[FileId(file_id) for file_id in data.images]
            )
        )
        return ArticleImagesResponse.of(views)


@put(
    "/api/user/avatar",
    opt=requires(Permission.MANAGE_OWN_ACCOUNT),
    tags=["users"],
    summary="Set the avatar",
    description=described_by(SetAvatar),
    responses=error_responses(
        not_found=_NO_FILE,
        conflict=f"The file is not a ready `avatar` file. {WRITE_CONFLICT}",
    ),
)
@inject
async def set_avatar(
    request: Request[Any, Any, Any],
    actor: Actor,
    data: JSONBody[SetAvatarRequest],
    set_avatar: FromDishka[SetAvatar],
) -> UserResponse:
    account = await set_avatar(
        SetAvatarCommand(
            actor=actor,
            access_token=presented_token(request),
            file_id=FileId(data.avatar.file_id),
        )
    )
    return UserResponse(user=User.of(account))
