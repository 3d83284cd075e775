"""Use case: take an article out of one's favorites."""

from application.content.favorite_relation import FavoriteCommand, FavoriteRelationUseCase
from application.content.loading import load_article
from application.ports.content import ArticleView


class UnfavoriteArticle(FavoriteRelationUseCase):
    """Remove an article from the caller's favorites.

    Rules:
    - An unknown slug is 404 keyed ``article``.
    - Removing a favorite that is not there is harmless.
    """

    async def __call__(self, command: FavoriteCommand) -> ArticleView:
        """Forget the favorite and return the article as the caller now sees it."""
        async with self._uow:
            article = await load_article(self._articles, command.slug)
            removed = await self._articles.remove_favorite(command.actor.user_id, article.id)
            if removed:
                article.unfavorited_by(command.actor.user_id, now=self._clock.now())
                self._uow.track(article)
            await self._uow.commit()
        return await self.after_change(command, changed=removed)
