"""The Comment aggregate: small on purpose, so an article never loads its comments."""

from datetime import datetime
from typing import Self

from domain.articles.article import Article
from domain.articles.events import CommentAdded, CommentDeleted
from domain.articles.values import ArticleId, CommentBody, CommentId
from domain.shared.aggregate import AggregateRoot
from domain.users.values import UserId


class Comment(AggregateRoot):
    """What a user said under an article."""

    __slots__ = ("article_id", "author_id", "body", "created_at", "id", "updated_at")

    def __init__(
        self,
        *,
        id: CommentId,  # noqa: A002 - the aggregate's identity is its id
        article_id: ArticleId,
        author_id: UserId,
        body: CommentBody,
        created_at: datetime,
        updated_at: datetime,
    ) -> None:
        super().__init__()
        self.id = id
        self.article_id = article_id
        self.author_id = author_id
        self.body = body
        self.created_at = created_at
        self.updated_at = updated_at

    @classmethod
    def post(
        cls,
        *,
        id: CommentId,  # noqa: A002 - the aggregate's identity is its id
        article: Article,
        author_id: UserId,
        body: CommentBody,
        now: datetime,
    ) -> Self:
        """Comment on `article`."""
        comment = cls(
            id=id,
            article_id=article.id,
            author_id=author_id,
            body=body,
            created_at=now,
            updated_at=now,
        )
        comment.record(
            CommentAdded(
                aggregate_id=str(id),
                occurred_at=now,
                article_id=str(article.id),
                article_author_id=str(article.author_id),
                author_id=str(author_id),
                article_slug=str(article.slug),
                article_title=str(article.title),
            )
        )
        return comment

    def is_written_by(self, user_id: UserId) -> bool:
        """Whether `user_id` wrote the comment."""
        return self.author_id == user_id

    def delete(self, *, by: UserId, now: datetime) -> None:
        """Say the comment is going away; the repository removes it."""
        self.record(
            CommentDeleted(
                aggregate_id=str(self.id),
                occurred_at=now,
                article_id=str(self.article_id),
                author_id=str(self.author_id),
                deleted_by=str(by),
            )
        )
