"""What favoring and unfavoring share: the command, the ports, and the answer."""

from dataclasses import dataclass

from application.common.identity import Identity
from application.content.loading import view_of
from application.content.read_cache import invalidate_content_reads
from application.ports.cache import Cache
from application.ports.content import ArticleReader, ArticleRepository, ArticleView
from application.ports.persistence import UnitOfWork
from application.ports.system import Clock


@dataclass(frozen=True, slots=True, kw_only=True)
class FavoriteCommand:
    """Who favors (or stops favoring) which article."""

    actor: Identity
    slug: str


class FavoriteRelationUseCase:
    """Base of the two favorite use cases; reads the article back after the change."""

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        articles: ArticleRepository,
        reader: ArticleReader,
        clock: Clock,
        cache: Cache,
    ) -> None:
        self._uow = uow
        self._articles = articles
        self._reader = reader
        self._clock = clock
        self._cache = cache

    async def after_change(self, command: FavoriteCommand, *, changed: bool) -> ArticleView:
        """Invalidate cached reads when something changed; return the caller's view."""
        if changed:
            await invalidate_content_reads(self._cache)
        return await view_of(self._reader, command.slug, command.actor)
