"""Use case: publish an article."""

from collections.abc import Sequence
from dataclasses import dataclass

from application.articles.article_access import view_of
from application.articles.errors import SlugTakenError
from application.articles.ports import ArticleReader, ArticleRepository, ArticleView
from application.articles.read_cache import ContentReadCache
from application.audit.capture import audited, identify_target
from application.common.identity import Identity
from application.common.ports.clock import Clock
from application.common.ports.ids import IdGenerator
from application.common.ports.unit_of_work import UnitOfWork
from domain.articles.article import Article
from domain.articles.values import ArticleId, Body, Description, Slug, TagList, Title


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishArticleCommand:
    """The new article; `tags` may be empty."""

    actor: Identity
    title: str
    description: str
    body: str
    tags: Sequence[str] = ()


@audited("article.publish", target="article")
class PublishArticle:
    """Publish an article written by the caller.

    Rules:
    - Title, description and body must not be blank; tags are trimmed and deduplicated.
    - The slug comes from the title. When another article has it, the slug gets a suffix
      unique to this article, so equal titles never collide.
    - `ArticlePublished` goes out through the outbox with the article.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        articles: ArticleRepository,
        reader: ArticleReader,
        clock: Clock,
        ids: IdGenerator,
        read_cache: ContentReadCache,
    ) -> None:
        self._uow = uow
        self._articles = articles
        self._reader = reader
        self._clock = clock
        self._ids = ids
        self._read_cache = read_cache

    async def __call__(self, command: PublishArticleCommand) -> ArticleView:
        """Store the article and return it as its author sees it."""
        title = Title(command.title)
        description = Description(command.description)
        body = Body(command.body)
        tags = TagList.parse(command.tags)
        article_id = ArticleId(self._ids.new_id())
        slug = Slug.from_title(title)
        async with self._uow:
            now = self._clock.now()
            for candidate in (slug, slug.disambiguated(article_id)):
                article = Article.publish(
                    id=article_id,
                    author_id=command.actor.user_id,
                    slug=candidate,
                    title=title,
                    description=description,
                    body=body,
                    tags=tags,
                    now=now,
                )
                try:
                    await self._articles.add(article)
                    break
                except SlugTakenError:
                    if candidate != slug:
                        raise
            identify_target(article.slug)
            self._uow.track(article)
            self._read_cache.invalidate_after_commit(self._uow)
            await self._uow.commit()
        return await view_of(self._reader, str(article.slug), command.actor)
