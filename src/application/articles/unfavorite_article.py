"""Use case: take an article out of one's favorites."""

from datetime import datetime

from application.articles.favorite_relation import FavoriteRelationUseCase
from application.audit.capture import audited
from domain.articles.article import Article
from domain.users.values import UserId


@audited("article.unfavorite", target="article", target_id=lambda command: command.slug)
class UnfavoriteArticle(FavoriteRelationUseCase):
    """Remove an article from the caller's favorites.

    Rules:
    - An unknown slug is `ArticleNotFoundError`.
    - Removing a favorite that is not there is harmless: no change, no event.
    """

    async def change(self, article: Article, user_id: UserId, *, now: datetime) -> bool:
        """Forget the favorite if there is one."""
        removed = await self._articles.remove_favorite(user_id, article.id)
        if removed:
            article.unfavorited_by(user_id, now=now)
        return removed
