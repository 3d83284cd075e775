"""What favoring and unfavoring share: the command, the ports, and the answer."""

from dataclasses import dataclass
from datetime import datetime

from application.articles.article_access import load_article, view_of
from application.articles.ports import ArticleReader, ArticleRepository, ArticleView
from application.articles.read_cache import ContentReadCache
from application.common.identity import Identity
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from domain.articles.article import Article
from domain.users.values import UserId


@dataclass(frozen=True, slots=True, kw_only=True)
class FavoriteCommand:
    """Who favors (or stops favoring) which article."""

    actor: Identity
    slug: str


class FavoriteRelationUseCase:
    """Base of the two favorite use cases: one change, and the article as the caller sees it.

    The answer is read inside the transaction, so a favorite that took effect is answered
    as done even when a racing delete removes the article right after: it and its event are
    committed, and the client is told so. A change that found the article gone is
    `ArticleNotFoundError`.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        articles: ArticleRepository,
        reader: ArticleReader,
        clock: Clock,
        read_cache: ContentReadCache,
    ) -> None:
        self._uow = uow
        self._articles = articles
        self._reader = reader
        self._clock = clock
        self._read_cache = read_cache

    async def __call__(self, command: FavoriteCommand) -> ArticleView:
        """Apply the change and return the article as the caller now sees it."""
        async with self._uow:
            article = await load_article(self._articles, command.slug)
            changed = await self.change(article, command.actor.user_id, now=self._clock.now())
            if changed:
                self._uow.track(article)
                self._read_cache.invalidate_after_commit(self._uow)
            view = await view_of(self._reader, command.slug, command.actor)
            await self._uow.commit()
        return view

    async def change(self, article: Article, user_id: UserId, *, now: datetime) -> bool:
        """Make the change in the open transaction; True when something changed."""
        raise NotImplementedError
