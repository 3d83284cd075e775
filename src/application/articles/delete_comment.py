"""Use case: delete a comment."""

from dataclasses import dataclass

from application.articles.article_access import load_article
from application.articles.errors import CommentDeletionForbiddenError, CommentNotFoundError
from application.articles.ports import ArticleRepository, CommentRepository
from application.audit.capture import audited
from application.common.identity import Identity
from application.common.permissions import Permission, role_allows
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from domain.articles.values import CommentId


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteCommentCommand:
    """Who deletes which comment under which article."""

    actor: Identity
    slug: str
    comment_id: int


@audited("comment.delete", target="comment", target_id=lambda command: command.comment_id)
class DeleteComment:
    """Delete a comment.

    Rules:
    - An unknown slug is `ArticleNotFoundError`; a comment that is not under this article
      is `CommentNotFoundError`.
    - The comment's author may delete it, and so may a role with `content:moderate`;
      anyone else gets `CommentDeletionForbiddenError`. The article's author has no special right.
    - `CommentDeleted` goes out once: of racing deletes, one removes the comment and the
      others raise `CommentNotFoundError` and record nothing.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        articles: ArticleRepository,
        comments: CommentRepository,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._articles = articles
        self._comments = comments
        self._clock = clock

    async def __call__(self, command: DeleteCommentCommand) -> None:
        """Remove the comment."""
        async with self._uow:
            article = await load_article(self._articles, command.slug)
            comment = (
                await self._comments.get(CommentId(command.comment_id), article.id)
                if CommentId.could_exist(command.comment_id)
                else None
            )
            if comment is None:
                raise CommentNotFoundError
            actor = command.actor
            if not (
                comment.is_written_by(actor.user_id)
                or role_allows(actor.role, Permission.MODERATE_CONTENT)
            ):
                raise CommentDeletionForbiddenError
            if not await self._comments.remove(comment.id):
                raise CommentNotFoundError
            comment.delete(by=actor.user_id, now=self._clock.now())
            self._uow.track(comment)
            await self._uow.commit()
