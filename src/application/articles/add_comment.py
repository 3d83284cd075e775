"""Use case: comment on an article."""

from dataclasses import dataclass

from application.articles.article_access import load_article
from application.articles.ports import ArticleRepository, CommentRepository, CommentView
from application.audit.capture import audited
from application.common.errors import AuthenticationRequiredError
from application.common.identity import Identity
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from application.profiles.follow_relation import profile_view
from application.users.ports import UserRepository
from domain.articles.comment import Comment
from domain.articles.values import CommentBody


@dataclass(frozen=True, slots=True, kw_only=True)
class AddCommentCommand:
    """Who says what under which article."""

    actor: Identity
    slug: str
    body: str


@audited("comment.add", target="comment")
class AddComment:
    """Add a comment.

    Rules:
    - The body must not be blank; an unknown slug is `ArticleNotFoundError`.
    - `CommentAdded` goes out through the outbox with the comment.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        articles: ArticleRepository,
        comments: CommentRepository,
        users: UserRepository,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._articles = articles
        self._comments = comments
        self._users = users
        self._clock = clock

    async def __call__(self, command: AddCommentCommand) -> CommentView:
        """Store the comment and return it as its author sees it."""
        body = CommentBody(command.body)
        async with self._uow:
            author = await self._users.get(command.actor.user_id)
            if author is None:
                raise AuthenticationRequiredError("is invalid")
            article = await load_article(self._articles, command.slug)
            comment = Comment.post(
                id=await self._comments.next_id(),
                article=article,
                author_id=command.actor.user_id,
                body=body,
                now=self._clock.now(),
            )
            await self._comments.add(comment)
            self._uow.track(comment)
            await self._uow.commit()
        return CommentView(
            id=comment.id.value,
            body=str(comment.body),
            created_at=comment.created_at,
            updated_at=comment.updated_at,
            author=profile_view(author, following=False),
        )
