"""Use case: the caller's feed, the articles of the users they follow."""

from dataclasses import dataclass

from application.articles.pagination import PageRequest
from application.articles.ports import ArticlePage, ArticleQuery, ArticleReader
from application.common.identity import Identity


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedArticlesCommand:
    """Whose feed, and which page of it."""

    actor: Identity
    page: PageRequest


class FeedArticles:
    """List the articles of the users the caller follows.

    Rules:
    - Newest first, ties by id; the count covers every article of the feed.
    - Someone who follows nobody gets an empty feed.
    """

    def __init__(self, reader: ArticleReader) -> None:
        self._reader = reader

    async def __call__(self, command: FeedArticlesCommand) -> ArticlePage:
        """Read the page and the total."""
        query = ArticleQuery(
            followed_by=command.actor.user_id,
            limit=command.page.limit,
            offset=command.page.offset,
        )
        return await self._reader.page(query, viewer=command.actor.user_id)
