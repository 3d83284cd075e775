"""Use case: make an article a favorite."""

from datetime import datetime

from application.articles.favorite_relation import FavoriteRelationUseCase
from application.audit.capture import audited
from domain.articles.article import Article
from domain.users.values import UserId


@audited("article.favorite", target="article", target_id=lambda command: command.slug)
class FavoriteArticle(FavoriteRelationUseCase):
    """Add an article to the caller's favorites.

    Rules:
    - An unknown slug is `ArticleNotFoundError`. Anyone may favor any article, their own too.
    - Favoring twice is harmless: nothing changes and no event is raised, also when the
      same request is sent again before the first one answered.
    """

    async def change(self, article: Article, user_id: UserId, *, now: datetime) -> bool:
        """Record the favorite unless it exists."""
        added = await self._articles.add_favorite(user_id, article.id, at=now)
        if added:
            article.favorited_by(user_id, now=now)
        return added
