"""RealWorld comments: /api/articles/{slug}/comments."""

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, delete, get, post
from litestar.params import JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from application.articles.add_comment import AddComment, AddCommentCommand
from application.articles.delete_comment import DeleteComment, DeleteCommentCommand
from application.articles.list_comments import ListComments, ListCommentsCommand
from application.articles.pagination import MAX_LIMIT, PageRequest
from application.common.permissions import Permission
from entrypoints.http.auth import PUBLIC, Actor, OptionalActor, requires
from entrypoints.http.openapi import WRITE_CONFLICT, described_by, error_responses
from entrypoints.http.rate_limits import COMMENTS, limit_writes, write_route
from entrypoints.http.schemas.articles import (
    Comment,
    CommentResponse,
    CommentsResponse,
    NewCommentRequest,
)
from entrypoints.http.schemas.pagination import CommentPageLimit, PageOffset

_WRITE = requires(Permission.WRITE_CONTENT)
_NO_ARTICLE = "No article has this slug."


class CommentsController(Controller):
    """Read, add and delete the comments under an article."""

    path = "/api/articles/{slug:str}/comments"
    tags = ["comments"]  # noqa: RUF012 - Litestar reads this class attribute
    guards = [limit_writes]  # noqa: RUF012 - counts the routes naming a write_route rule

    @get(
        opt=PUBLIC,
        summary="List comments",
        description=described_by(ListComments),
        responses=error_responses(not_found=_NO_ARTICLE),
    )
    @inject
    async def list_comments(
        self,
        slug: str,
        actor: OptionalActor,
        list_comments: FromDishka[ListComments],
        limit: CommentPageLimit = None,
        offset: PageOffset = None,
    ) -> CommentsResponse:
        comments = await list_comments(
            ListCommentsCommand(
                slug=slug,
                page=PageRequest.of(limit=limit, offset=offset, default_limit=MAX_LIMIT),
                viewer=actor,
            )
        )
        return CommentsResponse.of(comments)

    @post(
        status_code=HTTP_201_CREATED,
        opt=write_route(COMMENTS, Permission.WRITE_CONTENT),
        summary="Add comment",
        description=described_by(AddComment),
        responses=error_responses(not_found=_NO_ARTICLE, conflict=WRITE_CONFLICT),
    )
    @inject
    async def add(
        self,
        slug: str,
        actor: Actor,
        data: JSONBody[NewCommentRequest],
        add_comment: FromDishka[AddComment],
    ) -> CommentResponse:
        view = await add_comment(AddCommentCommand(actor=actor, slug=slug, body=data.comment.body))
        return CommentResponse(comment=Comment.of(view))

    @delete(
        "/{comment_id:int}",
        status_code=HTTP_204_NO_CONTENT,
        opt=_WRITE,
        summary="Delete comment",
        description=described_by(DeleteComment),
        responses=error_responses(
            forbidden="Only the comment's author or a moderator may.",
            not_found="No article has this slug, or it has no comment with this id.",
            conflict=WRITE_CONFLICT,
        ),
    )
    @inject
    async def delete(
        self,
        slug: str,
        comment_id: int,
        actor: Actor,
        delete_comment: FromDishka[DeleteComment],
    ) -> None:
        await delete_comment(DeleteCommentCommand(actor=actor, slug=slug, comment_id=comment_id))
