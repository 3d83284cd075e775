"""Use case: edit one's article."""

from collections.abc import Sequence
from dataclasses import dataclass

from application.articles.article_access import ensure_author, load_article, view_of
from application.articles.ports import ArticleReader, ArticleRepository, ArticleView
from application.articles.read_cache import ContentReadCache
from application.audit.capture import audited
from application.common.identity import Identity
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from application.common.unchanged import UNCHANGED, Unchanged
from domain.articles.values import Body, Description, TagList, Title


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateArticleCommand:
    """The fields to change; `UNCHANGED` leaves one as it is, an empty `tags` removes all."""

    actor: Identity
    slug: str
    title: str | Unchanged = UNCHANGED
    description: str | Unchanged = UNCHANGED
    body: str | Unchanged = UNCHANGED
    tags: Sequence[str] | Unchanged = UNCHANGED


@audited("article.update", target="article", target_id=lambda command: command.slug)
class UpdateArticle:
    """Edit an article.

    Rules:
    - Only the author may edit (`NotArticleAuthorError`); an unknown slug is
      `ArticleNotFoundError`.
    - The slug never changes, so links keep working after a new title.
    - Fields left out stay; `updatedAt` moves only when something changed.
    - Racing edits all apply: the article is locked from the read to the commit, so each
      edit starts from the one before it. The answer is read before the commit, so an
      edit that took effect is answered as done even if a delete removes the article next.
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

    async def __call__(self, command: UpdateArticleCommand) -> ArticleView:
        """Apply the changes and return the article as its author now sees it."""
        title = None if isinstance(command.title, Unchanged) else Title(command.title)
        description = (
            None if isinstance(command.description, Unchanged) else Description(command.description)
        )
        body = None if isinstance(command.body, Unchanged) else Body(command.body)
        tags = None if isinstance(command.tags, Unchanged) else TagList.parse(command.tags)
        async with self._uow:
            article = await load_article(self._articles, command.slug, for_update=True)
            ensure_author(article, command.actor)
            article.edit(
                now=self._clock.now(), title=title, description=description, body=body, tags=tags
            )
            changed = article.has_pending_events
            if changed:
                await self._articles.save(article)
                self._uow.track(article)
                self._read_cache.invalidate_after_commit(self._uow)
            view = await view_of(self._reader, str(article.slug), command.actor)
            await self._uow.commit()
        return view
