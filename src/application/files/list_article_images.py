"""Use case: the images an article carries."""

from dataclasses import dataclass

from application.articles.article_access import load_article
from application.articles.ports import ArticleRepository
from application.audit.capture import not_audited
from application.common.ports.unit_of_work import UnitOfWork
from application.files.links import FileLinks
from application.files.ports import FileRepository
from application.files.views import FileView


@dataclass(frozen=True, slots=True, kw_only=True)
class ListArticleImagesQuery:
    """Which article's images; anyone may ask, as anyone may read the article."""

    slug: str


@not_audited("reads only: the images of an article anyone may read, refused to no one")
class ListArticleImages:
    """The ready images attached to an article, oldest first."""

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        files: FileRepository,
        articles: ArticleRepository,
        links: FileLinks,
    ) -> None:
        self._uow = uow
        self._files = files
        self._articles = articles
        self._links = links

    async def __call__(self, query: ListArticleImagesQuery) -> list[FileView]:
        """The images, or `ArticleNotFoundError`."""
        async with self._uow:
            article = await load_article(self._articles, query.slug)
            images = await self._files.attached_to(article.id)
        return [self._links.view(stored) for stored in images]
