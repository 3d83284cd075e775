"""RealWorld comments: /api/articles/{slug}/comments."""

from typing import Annotated, Any

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Request, delete, get, post
from litestar.params import JSONBody, Parameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from application.common.permissions import Permission
from application.content.add_comment import AddComment, AddCommentCommand
from application.content.delete_comment import DeleteComment, DeleteCommentCommand
from application.content.list_comments import ListComments, ListCommentsCommand
from application.content.pagination import MAX_LIMIT, PageRequest
from entrypoints.http.auth import PUBLIC, identity_of, required_identity, requires
from entrypoints.http.rate_limits import COMMENTS, limit_writes, write_route
from entrypoints.http.schemas.articles import (
    Comment,
    CommentResponse,
    CommentsResponse,
    NewCommentRequest,
)

_WRITE = requires(Permission.WRITE_CONTENT)


class CommentsController(Controller):
    """Read, add and delete the comments under an article."""

    path = "/api/articles/{slug:str}/comments"
    tags = ["comments"]  # noqa: RUF012 - Litestar reads this class attribute
    guards = [limit_writes]  # noqa: RUF012 - counts the routes naming a write_route rule

    @get(opt=PUBLIC, summary="List comments")
    @inject
    async def list_comments(
        self,
        slug: str,
        request: Request[Any, Any, Any],
        list_comments: FromDishka[ListComments],
        limit: Annotated[
            int | None, Parameter(description="Page size, 0 to 100 (default 100).")
        ] = None,
        offset: Annotated[int | None, Parameter(description="Comments to skip.")] = None,
    ) -> CommentsResponse:
        """Newest first; the first 100 unless `limit` and `offset` say otherwise."""
        comments = await list_comments(
            ListCommentsCommand(
                slug=slug,
                page=PageRequest.of(limit=limit, offset=offset, default_limit=MAX_LIMIT),
                viewer=identity_of(request),
            )
        )
        return CommentsResponse.of(comments)

    @post(
        status_code=HTTP_201_CREATED,
        opt=write_route(COMMENTS, Permission.WRITE_CONTENT),
        summary="Add comment",
    )
    @inject
    async def add(
        self,
        slug: str,
        request: Request[Any, Any, Any],
        data: JSONBody[NewCommentRequest],
        add_comment: FromDishka[AddComment],
    ) -> CommentResponse:
        """Comment on the article."""
        view = await add_comment(
            AddCommentCommand(actor=required_identity(request), slug=slug, body=data.comment.body)
        )
        return CommentResponse(comment=Comment.of(view))

    @delete(
        "/{comment_id:int}",
        status_code=HTTP_204_NO_CONTENT,
        opt=_WRITE,
        summary="Delete comment",
    )
    @inject
    async def delete(
        self,
        slug: str,
        comment_id: int,
        request: Request[Any, Any, Any],
        delete_comment: FromDishka[DeleteComment],
    ) -> None:
        """Delete; the comment's author or a moderator may."""
        await delete_comment(
            DeleteCommentCommand(actor=required_identity(request), slug=slug, comment_id=comment_id)
        )
