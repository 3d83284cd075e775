"""Use case: list articles, newest first, with optional filters."""

from dataclasses import dataclass

from application.articles.pagination import PageRequest
from application.articles.ports import ArticlePage, ArticleQuery, ArticleReader
from application.common.identity import Identity
from domain.articles.values import Tag
from domain.shared.errors import DomainError
from domain.users.values import Username


@dataclass(frozen=True, slots=True, kw_only=True)
class ListArticlesCommand:
    """The filters (each optional), the page, and who is looking."""

    tag: str | None = None
    author: str | None = None
    favorited: str | None = None
    page: PageRequest
    viewer: Identity | None


class ListArticles:
    """List articles globally.

    Rules:
    - Newest first; articles published at the same instant are ordered by id.
    - `tag`, `author` (a username) and `favorited` (a username) combine with AND; a filter
      naming nothing that exists matches nothing.
    - The count covers every match, not just the page. Bodies are left out.
    """

    def __init__(self, reader: ArticleReader) -> None:
        self._reader = reader

    async def __call__(self, command: ListArticlesCommand) -> ArticlePage:
        """Read the page and the total.

        A filter no tag or username could satisfy matches nothing, without a query.
        """
        if not _could_match(command):
            return ArticlePage(articles=[], total=0)
        query = ArticleQuery(
            tag=command.tag,
            author=command.author,
            favorited=command.favorited,
            limit=command.page.limit,
            offset=command.page.offset,
        )
        viewer = command.viewer.user_id if command.viewer else None
        return await self._reader.page(query, viewer=viewer)


def _could_match(command: ListArticlesCommand) -> bool:
    usernames = [name for name in (command.author, command.favorited) if name is not None]
    if not all(Username.could_exist(name) for name in usernames):
        return False
    if command.tag is None:
        return True
    try:
        return Tag.parse(command.tag).value == command.tag
    except DomainError:
        return False
