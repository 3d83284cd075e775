"""The articles use cases wired on in-memory adapters, beside the users ones."""

from dataclasses import dataclass

from adapters.memory.articles import (
    InMemoryArticleReader,
    InMemoryArticleRepository,
    InMemoryCommentReader,
    InMemoryCommentRepository,
)
from application.articles.add_comment import AddComment, AddCommentCommand
from application.articles.delete_article import DeleteArticle
from application.articles.delete_comment import DeleteComment
from application.articles.favorite_article import FavoriteArticle
from application.articles.feed_articles import FeedArticles
from application.articles.get_article import GetArticle
from application.articles.list_articles import ListArticles
from application.articles.list_comments import ListComments
from application.articles.list_tags import ListTags
from application.articles.ports import ArticleView, CommentView
from application.articles.publish_article import PublishArticle, PublishArticleCommand
from application.articles.unfavorite_article import UnfavoriteArticle
from application.articles.update_article import UpdateArticle
from application.common.identity import Identity
from application.common.ports.unit_of_work import UnitOfWork
from tests.support.users import UsersWorld


@dataclass
class ArticlesWorld(UsersWorld):
    """Every identity and content use case, on one in-memory database."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.articles = InMemoryArticleRepository(self.database)
        self.comments = InMemoryCommentRepository(self.database)
        self.article_reader = InMemoryArticleReader(self.database)
        self.comment_reader = InMemoryCommentReader(self.database)

    def publish_article(self, uow: UnitOfWork | None = None) -> PublishArticle:
        return PublishArticle(
            uow=self.uow() if uow is None else uow,
            articles=self.articles,
            reader=self.article_reader,
            clock=self.clock,
            ids=self.ids,
            read_cache=self.read_cache,
        )

    def update_article(self) -> UpdateArticle:
        return UpdateArticle(
            uow=self.uow(),
            articles=self.articles,
            reader=self.article_reader,
            clock=self.clock,
            read_cache=self.read_cache,
        )

    def delete_article(self) -> DeleteArticle:
        return DeleteArticle(
            uow=self.uow(), articles=self.articles, clock=self.clock, read_cache=self.read_cache
        )

    def favorite_article(self) -> FavoriteArticle:
        return FavoriteArticle(
            uow=self.uow(),
            articles=self.articles,
            reader=self.article_reader,
            clock=self.clock,
            read_cache=self.read_cache,
        )

    def unfavorite_article(self) -> UnfavoriteArticle:
        return UnfavoriteArticle(
            uow=self.uow(),
            articles=self.articles,
            reader=self.article_reader,
            clock=self.clock,
            read_cache=self.read_cache,
        )

    def get_article(self) -> GetArticle:
        return GetArticle(self.article_reader)

    def list_articles(self) -> ListArticles:
        return ListArticles(self.article_reader)

    def feed_articles(self) -> FeedArticles:
        return FeedArticles(self.article_reader)

    def list_tags(self) -> ListTags:
        return ListTags(self.article_reader)

    def add_comment(self) -> AddComment:
        return AddComment(
            uow=self.uow(),
            articles=self.articles,
            comments=self.comments,
            users=self.users,
            clock=self.clock,
        )

    def list_comments(self) -> ListComments:
        return ListComments(self.comment_reader)

    def delete_comment(self) -> DeleteComment:
        return DeleteComment(
            uow=self.uow(), articles=self.articles, comments=self.comments, clock=self.clock
        )

    async def writer(self, name: str) -> Identity:
        """Register `name` and return their identity."""
        return self.identity_of(await self.register(name))

    async def publish(
        self, author: Identity, title: str = "Hello", *, tags: tuple[str, ...] = ()
    ) -> ArticleView:
        """Publish an article with a short body."""
        return await self.publish_article()(
            PublishArticleCommand(
                actor=author, title=title, description="About it", body="The body", tags=tags
            )
        )

    async def comment(self, author: Identity, slug: str, body: str = "Nice") -> CommentView:
        """Comment on the article."""
        return await self.add_comment()(AddCommentCommand(actor=author, slug=slug, body=body))
