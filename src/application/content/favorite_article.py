"""Use case: make an article a favorite."""

from application.content.favorite_relation import FavoriteCommand, FavoriteRelationUseCase
from application.content.loading import load_article
from application.ports.content import ArticleView


class FavoriteArticle(FavoriteRelationUseCase):
    """Add an article to the caller's favorites.

    Rules:
    - An unknown slug is 404 keyed ``article``. Anyone may favor any article, their own too.
    - Favoring twice is harmless: nothing changes and no event is raised.
    """

    async def __call__(self, command: FavoriteCommand) -> ArticleView:
        """Record the favorite and return the article as the caller now sees it."""
        async with self._uow:
            article = await load_article(self._articles, command.slug)
            now = self._clock.now()
            added = await self._articles.add_favorite(command.actor.user_id, article.id, at=now)
            if added:
                article.favorited_by(command.actor.user_id, now=now)
                self._uow.track(article)
            await self._uow.commit()
        return await self.after_change(command, changed=added)
