"""Use case: read one article."""

from dataclasses import dataclass

from application.articles.errors import ArticleNotFoundError
from application.articles.ports import ArticleReader, ArticleView
from application.common.identity import Identity
from domain.articles.values import Slug


@dataclass(frozen=True, slots=True, kw_only=True)
class GetArticleCommand:
    """Which article, and who is looking (None when anonymous)."""

    slug: str
    viewer: Identity | None


class GetArticle:
    """Show an article with its body.

    Rules:
    - Anyone may read; `favorited` and `author.following` are the viewer's.
    - An unknown slug is `ArticleNotFoundError`.
    """

    def __init__(self, reader: ArticleReader) -> None:
        self._reader = reader

    async def __call__(self, command: GetArticleCommand) -> ArticleView:
        """Read the article in one query."""
        viewer = command.viewer.user_id if command.viewer else None
        view = (
            await self._reader.by_slug(command.slug, viewer=viewer)
            if Slug.could_exist(command.slug)
            else None
        )
        if view is None:
            raise ArticleNotFoundError
        return view
