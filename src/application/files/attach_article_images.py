"""Use case: choose the images an article carries."""

from collections.abc import Sequence
from dataclasses import dataclass

from application.articles.article_access import ensure_author, load_article
from application.articles.ports import ArticleRepository
from application.articles.read_cache import ContentReadCache
from application.audit.capture import audited
from application.common.identity import Identity
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from application.files.access import load_own_file
from application.files.links import FileLinks
from application.files.ports import FileRepository
from application.files.views import FileView
from domain.files.values import FileId
from domain.shared.errors import DomainError

ARTICLE_IMAGES_MAX = 20
"""Images one article may carry."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AttachArticleImagesCommand:
    """Which of the caller's images the article carries from now on, in order."""

    actor: Identity
    slug: str
    file_ids: Sequence[FileId]


@audited("article.images_attach", target="article", target_id=lambda command: command.slug)
class AttachArticleImages:
    """Replace the set of images an article carries.

    Rules:
    - Only the article's author; each file must be the author's own ready
      ``article_image`` (another user's file is not found).
    - Attached images become public, as the article is; images no longer listed are
      detached and private to their owner again, not deleted.
    - At most `ARTICLE_IMAGES_MAX`, each once.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        files: FileRepository,
        articles: ArticleRepository,
        clock: Clock,
        links: FileLinks,
        read_cache: ContentReadCache,
    ) -> None:
        self._uow = uow
        self._files = files
        self._articles = articles
        self._clock = clock
        self._links = links
        self._read_cache = read_cache

    async def __call__(self, command: AttachArticleImagesCommand) -> list[FileView]:
        """Attach the images; return them as the article now carries them."""
        if len(command.file_ids) > ARTICLE_IMAGES_MAX:
            raise DomainError(f"at most {ARTICLE_IMAGES_MAX} images per article", field="images")
        if len(set(command.file_ids)) != len(command.file_ids):
            raise DomainError("lists an image twice", field="images")
        now = self._clock.now()
        async with self._uow:
            article = await load_article(self._articles, command.slug, for_update=True)
            ensure_author(article, command.actor)
            wanted = [
                await load_own_file(self._files, file_id, owner=command.actor.user_id)
                for file_id in command.file_ids
            ]
            for stored in wanted:
                stored.attach_to(article.id, now=now)
                await self._files.save(stored)
                self._uow.track(stored)
            kept = set(command.file_ids)
            for stored in await self._files.attached_to(article.id):
                if stored.id not in kept:
                    stored.detach(now=now)
                    await self._files.save(stored)
                    self._uow.track(stored)
            self._read_cache.invalidate_after_commit(self._uow)
            await self._uow.commit()
        return [self._links.view(stored) for stored in wanted]
