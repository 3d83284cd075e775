"""Use case: the tags in use."""

from collections.abc import Sequence

from application.articles.ports import ArticleReader


class ListTags:
    """List every tag some article carries, most used first, then by name.

    Tags exist only through articles: a tag disappears with its last article.
    """

    def __init__(self, reader: ArticleReader) -> None:
        self._reader = reader

    async def __call__(self) -> Sequence[str]:
        """Read the tags."""
        return await self._reader.tags()
