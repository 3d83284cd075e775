"""What the article use cases share: finding the article and checking who may touch it."""

from application.articles.errors import ArticleNotFoundError, NotArticleAuthorError
from application.articles.ports import ArticleReader, ArticleRepository, ArticleView
from application.common.identity import Identity
from domain.articles.article import Article
from domain.articles.values import Slug


async def load_article(
    articles: ArticleRepository, slug: str, *, for_update: bool = False
) -> Article:
    """The article with this slug, or `ArticleNotFoundError`; `for_update` locks it."""
    article = (
        await articles.get_by_slug(slug, for_update=for_update) if Slug.could_exist(slug) else None
    )
    if article is None:
        raise ArticleNotFoundError
    return article


def ensure_author(article: Article, actor: Identity) -> None:
    """Only the author may change or delete an article; anyone else gets `NotArticleAuthorError`."""
    if not article.is_written_by(actor.user_id):
        raise NotArticleAuthorError


async def view_of(reader: ArticleReader, slug: str, actor: Identity) -> ArticleView:
    """The article as the actor now sees it, read after the change committed.

    `ArticleNotFoundError` if another request deleted it in between.
    """
    view = await reader.by_slug(slug, viewer=actor.user_id)
    if view is None:
        raise ArticleNotFoundError
    return view
