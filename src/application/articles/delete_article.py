"""Use case: delete one's article."""

from dataclasses import dataclass

from application.articles.article_access import ensure_author, load_article
from application.articles.errors import ArticleNotFoundError
from application.articles.ports import ArticleRepository
from application.articles.read_cache import invalidate_content_reads
from application.common.identity import Identity
from application.common.ports.cache import Cache
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteArticleCommand:
    """Who deletes which article."""

    actor: Identity
    slug: str


class DeleteArticle:
    """Delete an article with its comments and favorites.

    Rules:
    - Only the author may delete (`NotArticleAuthorError`); an unknown slug is
      `ArticleNotFoundError`.
    - `ArticleDeleted` goes out through the outbox, once: of racing deletes, one removes
      the article and the others raise `ArticleNotFoundError` and record nothing.
    """

    def __init__(
        self, *, uow: UnitOfWork, articles: ArticleRepository, clock: Clock, cache: Cache
    ) -> None:
        self._uow = uow
        self._articles = articles
        self._clock = clock
        self._cache = cache

    async def __call__(self, command: DeleteArticleCommand) -> None:
        """Remove the article."""
        async with self._uow:
            article = await load_article(self._articles, command.slug)
            ensure_author(article, command.actor)
            if not await self._articles.remove(article.id):
                raise ArticleNotFoundError
            article.delete(by=command.actor.user_id, now=self._clock.now())
            self._uow.track(article)
            await self._uow.commit()
        await invalidate_content_reads(self._cache)
