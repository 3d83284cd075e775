"""Use case: read the comments under an article."""

from collections.abc import Sequence
from dataclasses import dataclass

from application.articles.errors import ArticleNotFoundError
from application.articles.pagination import PageRequest
from application.articles.ports import CommentReader, CommentView
from application.common.identity import Identity
from domain.articles.values import Slug


@dataclass(frozen=True, slots=True, kw_only=True)
class ListCommentsCommand:
    """Which article, which page, and who is looking."""

    slug: str
    page: PageRequest
    viewer: Identity | None


class ListComments:
    """List an article's comments, newest first.

    Rules:
    - Anyone may read; `author.following` is the viewer's.
    - An unknown slug is `ArticleNotFoundError`.
    """

    def __init__(self, reader: CommentReader) -> None:
        self._reader = reader

    async def __call__(self, command: ListCommentsCommand) -> Sequence[CommentView]:
        """Read the page of comments in one query."""
        viewer = command.viewer.user_id if command.viewer else None
        comments = (
            await self._reader.for_article(
                command.slug,
                viewer=viewer,
                limit=command.page.limit,
                offset=command.page.offset,
            )
            if Slug.could_exist(command.slug)
            else None
        )
        if comments is None:
            raise ArticleNotFoundError
        return comments
