"""Use case: delete one's article."""

from dataclasses import dataclass

from application.articles.article_access import ensure_author, load_article
from application.articles.errors import ArticleNotFoundError
from application.articles.ports import ArticleRepository
from application.articles.read_cache import ContentReadCache
from application.audit.capture import audited
from application.common.identity import Identity
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteArticleCommand:
    """Who deletes which article."""

    actor: Identity
    slug: str


@audited("article.delete", target="article", target_id=lambda command: command.slug)
class DeleteArticle:
    """Delete an article with its comments and favorites.

    Rules:
    - Only the author may delete (`NotArticleAuthorError`); an unknown slug is
      `ArticleNotFoundError`.
    - `ArticleDeleted` goes out through the outbox, once: of racing deletes, one removes
      the article and the others raise `ArticleNotFoundError` and record nothing.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        articles: ArticleRepository,
        clock: Clock,
        read_cache: ContentReadCache,
    ) -> None:
        self._uow = uow
        self._articles = articles
        self._clock = clock
        self._read_cache = read_cache

    async def __call__(self, command: DeleteArticleCommand) -> None:
        """Remove the article."""
        async with self._uow:
            article = await load_article(self._articles, command.slug)
            ensure_author(article, command.actor)
            if not await self._articles.remove(article.id):
                raise ArticleNotFoundError
            article.delete(by=command.actor.user_id, now=self._clock.now())
            self._uow.track(article)
            self._read_cache.invalidate_after_commit(self._uow)
            await self._uow.commit()
