"""The Article aggregate, which owns its tags and its slug."""

from datetime import datetime
from typing import Self

from domain.articles.events import (
    ArticleDeleted,
    ArticleFavorited,
    ArticlePublished,
    ArticleUnfavorited,
    ArticleUpdated,
)
from domain.articles.values import ArticleId, Body, Description, Slug, TagList, Title
from domain.shared.aggregate import AggregateRoot
from domain.users.values import UserId


class Article(AggregateRoot):
    """Something a user wrote for everyone to read.

    Who may change it is decided by the use cases; the aggregate keeps its own state
    consistent and says what happened.
    """

    __slots__ = (
        "author_id",
        "body",
        "created_at",
        "description",
        "id",
        "slug",
        "tags",
        "title",
        "updated_at",
    )

    def __init__(
        self,
        *,
        id: ArticleId,  # noqa: A002 - the aggregate's identity is its id
        author_id: UserId,
        slug: Slug,
        title: Title,
        description: Description,
        body: Body,
        tags: TagList,
        created_at: datetime,
        updated_at: datetime,
    ) -> None:
        super().__init__()
        self.id = id
        self.author_id = author_id
        self.slug = slug
        self.title = title
        self.description = description
        self.body = body
        self.tags = tags
        self.created_at = created_at
        self.updated_at = updated_at

    @classmethod
    def publish(
        cls,
        *,
        id: ArticleId,  # noqa: A002 - the aggregate's identity is its id
        author_id: UserId,
        slug: Slug,
        title: Title,
        description: Description,
        body: Body,
        tags: TagList,
        now: datetime,
    ) -> Self:
        """Write a new article under `slug`, which the caller made distinct."""
        article = cls(
            id=id,
            author_id=author_id,
            slug=slug,
            title=title,
            description=description,
            body=body,
            tags=tags,
            created_at=now,
            updated_at=now,
        )
        article.record(
            ArticlePublished(
                aggregate_id=str(id),
                occurred_at=now,
                author_id=str(author_id),
                slug=str(slug),
                title=str(title),
                tags=tags.names,
            )
        )
        return article

    def is_written_by(self, user_id: UserId) -> bool:
        """Whether `user_id` is the author."""
        return self.author_id == user_id

    def edit(
        self,
        *,
        now: datetime,
        title: Title | None = None,
        description: Description | None = None,
        body: Body | None = None,
        tags: TagList | None = None,
    ) -> None:
        """Change what was given; the slug stays, so links keep working.

        Records one event naming what really changed, and none when nothing did.
        """
        changed: list[str] = []
        if title is not None and title != self.title:
            self.note_change("title", str(self.title), str(title))
            self.title = title
            changed.append("title")
        if description is not None and description != self.description:
            self.note_change("description", str(self.description), str(description))
            self.description = description
            changed.append("description")
        if body is not None and body != self.body:
            self.note_change("body", str(self.body), str(body))
            self.body = body
            changed.append("body")
        if tags is not None and tags != self.tags:
            self.note_change("tags", ",".join(self.tags.names), ",".join(tags.names))
            self.tags = tags
            changed.append("tags")
        if changed:
            self.updated_at = now
            self.record(
                ArticleUpdated(
                    aggregate_id=str(self.id),
                    occurred_at=now,
                    author_id=str(self.author_id),
                    changed=tuple(changed),
                )
            )

    def delete(self, *, by: UserId, now: datetime) -> None:
        """Say the article is going away; the repository removes it."""
        self.record(
            ArticleDeleted(
                aggregate_id=str(self.id),
                occurred_at=now,
                author_id=str(self.author_id),
                slug=str(self.slug),
                deleted_by=str(by),
            )
        )

    def favorited_by(self, user_id: UserId, *, now: datetime) -> None:
        """Say `user_id` made it a favorite; call only when the favorite is new."""
        self.record(
            ArticleFavorited(
                aggregate_id=str(self.id),
                occurred_at=now,
                author_id=str(self.author_id),
                user_id=str(user_id),
                slug=str(self.slug),
                title=str(self.title),
            )
        )

    def unfavorited_by(self, user_id: UserId, *, now: datetime) -> None:
        """Say `user_id` dropped it from their favorites; call only when it was one."""
        self.record(
            ArticleUnfavorited(
                aggregate_id=str(self.id),
                occurred_at=now,
                author_id=str(self.author_id),
                user_id=str(user_id),
            )
        )
