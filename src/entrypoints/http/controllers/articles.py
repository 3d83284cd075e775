"""RealWorld articles: /api/articles, the feed, favorites, and /api/tags."""

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, delete, get, post, put
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT
from msgspec import UNSET

from application.articles.delete_article import DeleteArticle, DeleteArticleCommand
from application.articles.favorite_article import FavoriteArticle
from application.articles.favorite_relation import FavoriteCommand
from application.articles.feed_articles import FeedArticles, FeedArticlesCommand
from application.articles.get_article import GetArticle, GetArticleCommand
from application.articles.list_articles import ListArticles, ListArticlesCommand
from application.articles.list_tags import ListTags
from application.articles.pagination import PageRequest
from application.articles.publish_article import PublishArticle, PublishArticleCommand
from application.articles.unfavorite_article import UnfavoriteArticle
from application.articles.update_article import UpdateArticle, UpdateArticleCommand
from application.common.permissions import Permission
from application.common.unchanged import UNCHANGED
from entrypoints.http.auth import PUBLIC, Actor, OptionalActor, requires
from entrypoints.http.openapi import WRITE_CONFLICT, described_by, error_responses
from entrypoints.http.rate_limits import ARTICLES, FAVORITES, limit_writes, write_route
from entrypoints.http.schemas.articles import (
    Article,
    ArticleResponse,
    ArticlesResponse,
    NewArticleRequest,
    TagsResponse,
    UpdateArticleRequest,
)
from entrypoints.http.schemas.pagination import PageLimit, PageOffset

Limit = PageLimit
Offset = PageOffset
_WRITE = requires(Permission.WRITE_CONTENT)
_NO_ARTICLE = "No article has this slug."
_NOT_THE_AUTHOR = "Only the article's author may."


class ArticlesController(Controller):
    """List, read, publish, edit, delete and favorite articles."""

    path = "/api/articles"
    tags = ["articles"]  # noqa: RUF012 - Litestar reads this class attribute
    guards = [limit_writes]  # noqa: RUF012 - counts the routes naming a write_route rule

    @get(
        opt=PUBLIC,
        summary="List articles",
        description=described_by(ListArticles),
        responses=error_responses(),
    )
    @inject
    async def list_articles(
        self,
        *,
        actor: OptionalActor,
        list_articles: FromDishka[ListArticles],
        tag: str | None = None,
        author: str | None = None,
        favorited: str | None = None,
        limit: Limit = None,
        offset: Offset = None,
    ) -> ArticlesResponse:
        page = await list_articles(
            ListArticlesCommand(
                tag=tag,
                author=author,
                favorited=favorited,
                page=PageRequest.of(limit=limit, offset=offset),
                viewer=actor,
            )
        )
        return ArticlesResponse.of(page)

    @get(
        "/feed",
        opt=requires(Permission.READ_CONTENT),
        summary="Feed",
        description=described_by(FeedArticles),
        responses=error_responses(),
    )
    @inject
    async def feed(
        self,
        actor: Actor,
        feed_articles: FromDishka[FeedArticles],
        limit: Limit = None,
        offset: Offset = None,
    ) -> ArticlesResponse:
        page = await feed_articles(
            FeedArticlesCommand(actor=actor, page=PageRequest.of(limit=limit, offset=offset))
        )
        return ArticlesResponse.of(page)

    @post(
        status_code=HTTP_201_CREATED,
        opt=write_route(ARTICLES, Permission.WRITE_CONTENT),
        summary="Create article",
        description=described_by(PublishArticle),
        responses=error_responses(conflict=WRITE_CONFLICT),
    )
    @inject
    async def publish(
        self,
        actor: Actor,
        data: JSONBody[NewArticleRequest],
        publish_article: FromDishka[PublishArticle],
    ) -> ArticleResponse:
        article = data.article
        view = await publish_article(
            PublishArticleCommand(
                actor=actor,
                title=article.title,
                description=article.description,
                body=article.body,
                tags=article.tag_list,
            )
        )
        return ArticleResponse(article=Article.of(view))

    @get(
        "/{slug:str}",
        opt=PUBLIC,
        summary="Get article",
        description=described_by(GetArticle),
        responses=error_responses(not_found=_NO_ARTICLE),
    )
    @inject
    async def get_article(
        self, slug: str, actor: OptionalActor, get_article: FromDishka[GetArticle]
    ) -> ArticleResponse:
        view = await get_article(GetArticleCommand(slug=slug, viewer=actor))
        return ArticleResponse(article=Article.of(view))

    @put(
        "/{slug:str}",
        opt=_WRITE,
        summary="Update article",
        description=described_by(UpdateArticle),
        responses=error_responses(
            forbidden=_NOT_THE_AUTHOR, not_found=_NO_ARTICLE, conflict=WRITE_CONFLICT
        ),
    )
    @inject
    async def update(
        self,
        slug: str,
        actor: Actor,
        data: JSONBody[UpdateArticleRequest],
        update_article: FromDishka[UpdateArticle],
    ) -> ArticleResponse:
        changes = data.article
        view = await update_article(
            UpdateArticleCommand(
                actor=actor,
                slug=slug,
                title=UNCHANGED if changes.title is UNSET else changes.title,
                description=UNCHANGED if changes.description is UNSET else changes.description,
                body=UNCHANGED if changes.body is UNSET else changes.body,
                tags=UNCHANGED if changes.tag_list is UNSET else changes.tag_list,
            )
        )
        return ArticleResponse(article=Article.of(view))

    @delete(
        "/{slug:str}",
        status_code=HTTP_204_NO_CONTENT,
        opt=_WRITE,
        summary="Delete article",
        description=described_by(DeleteArticle),
        responses=error_responses(
            forbidden=_NOT_THE_AUTHOR, not_found=_NO_ARTICLE, conflict=WRITE_CONFLICT
        ),
    )
    @inject
    async def delete_article(
        self,
        slug: str,
        actor: Actor,
        delete_article: FromDishka[DeleteArticle],
    ) -> None:
        await delete_article(DeleteArticleCommand(actor=actor, slug=slug))

    @post(
        "/{slug:str}/favorite",
        status_code=HTTP_200_OK,
        opt=write_route(FAVORITES, Permission.WRITE_CONTENT),
        summary="Favorite",
        description=described_by(FavoriteArticle),
        responses=error_responses(not_found=_NO_ARTICLE, conflict=WRITE_CONFLICT),
    )
    @inject
    async def favorite(
        self,
        slug: str,
        actor: Actor,
        favorite_article: FromDishka[FavoriteArticle],
    ) -> ArticleResponse:
        view = await favorite_article(FavoriteCommand(actor=actor, slug=slug))
        return ArticleResponse(article=Article.of(view))

    @delete(
        "/{slug:str}/favorite",
        status_code=HTTP_200_OK,
        opt=write_route(FAVORITES, Permission.WRITE_CONTENT),
        summary="Unfavorite",
        description=described_by(UnfavoriteArticle),
        responses=error_responses(not_found=_NO_ARTICLE, conflict=WRITE_CONFLICT),
    )
    @inject
    async def unfavorite(
        self,
        slug: str,
        actor: Actor,
        unfavorite_article: FromDishka[UnfavoriteArticle],
    ) -> ArticleResponse:
        view = await unfavorite_article(FavoriteCommand(actor=actor, slug=slug))
        return ArticleResponse(article=Article.of(view))


@get(
    "/api/tags",
    opt=PUBLIC,
    tags=["tags"],
    summary="List tags",
    description=described_by(ListTags),
    responses=error_responses(),
)
@inject
async def list_tags(list_tags: FromDishka[ListTags]) -> TagsResponse:
    return TagsResponse(tags=list(await list_tags()))
