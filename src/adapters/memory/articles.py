"""Articles, favorites and comments in the in-memory database: both sides of the port."""

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from adapters.memory.database import InMemoryDatabase, detached
from adapters.memory.users import FOLLOWS, USERS
from application.articles.errors import SlugTakenError
from application.articles.ports import (
    ArticlePage,
    ArticleQuery,
    ArticleReader,
    ArticleRepository,
    ArticleView,
    CommentReader,
    CommentRepository,
    CommentView,
)
from application.profiles.ports import ProfileView
from domain.articles.article import Article
from domain.articles.comment import Comment
from domain.articles.values import ArticleId, CommentId
from domain.users.user import User
from domain.users.values import UserId

ARTICLES = "articles"
FAVORITES = "favorites"
COMMENTS = "comments"
SEQUENCES = "sequences"


class _Tables:
    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database

    @property
    def _articles(self) -> dict[ArticleId, Article]:
        return self._database.table(ARTICLES)

    @property
    def _favorites(self) -> dict[tuple[UserId, ArticleId], datetime]:
        return self._database.table(FAVORITES)

    @property
    def _comments(self) -> dict[CommentId, Comment]:
        return self._database.table(COMMENTS)

    @property
    def _users(self) -> dict[UserId, User]:
        return self._database.table(USERS)

    @property
    def _follows(self) -> dict[tuple[UserId, UserId], datetime]:
        return self._database.table(FOLLOWS)

    def _user_named(self, username: str) -> User | None:
        return next((u for u in self._users.values() if str(u.username) == username), None)

    def _article_with_slug(self, slug: str) -> Article | None:
        return next((a for a in self._articles.values() if str(a.slug) == slug), None)

    def _profile(self, user_id: UserId, viewer: UserId | None) -> ProfileView:
        user = self._users[user_id]
        return ProfileView(
            username=str(user.username),
            bio=user.profile.bio,
            image=user.profile.image,
            following=viewer is not None and (viewer, user_id) in self._follows,
        )


class InMemoryArticleRepository(_Tables, ArticleRepository):
    """The `ArticleRepository` port over the in-memory database; stores copies."""

    async def add(self, article: Article) -> None:
        """Store a new article, refusing a taken slug."""
        if self._article_with_slug(str(article.slug)) is not None:
            raise SlugTakenError
        self._articles[article.id] = detached(article)

    async def save(self, article: Article) -> None:
        """Replace the stored article."""
        self._articles[article.id] = detached(article)

    async def get_by_slug(
        self,
        slug: str,
        *,
        for_update: bool = False,  # noqa: ARG002 - the unit of work already serializes
    ) -> Article | None:
        """A copy of the article with this slug."""
        article = self._article_with_slug(slug)
        return detached(article) if article else None

    async def remove(self, article_id: ArticleId) -> bool:
        """Forget the article, its favorites and its comments; False if it was gone."""
        if self._articles.pop(article_id, None) is None:
            return False
        for favorite in [key for key in self._favorites if key[1] == article_id]:
            del self._favorites[favorite]
        for comment in [key for key, c in self._comments.items() if c.article_id == article_id]:
            del self._comments[comment]
        return True

    async def add_favorite(self, user_id: UserId, article_id: ArticleId, *, at: datetime) -> bool:
        """Record the favorite; False if it existed."""
        if (user_id, article_id) in self._favorites:
            return False
        self._favorites[user_id, article_id] = at
        return True

    async def remove_favorite(self, user_id: UserId, article_id: ArticleId) -> bool:
        """Forget the favorite; False if there was none."""
        return self._favorites.pop((user_id, article_id), None) is not None


class InMemoryCommentRepository(_Tables, CommentRepository):
    """The `CommentRepository` port over the in-memory database."""

    async def next_id(self) -> CommentId:
        """The next value of a counter kept with the tables, so a rollback rewinds it."""
        sequences: dict[str, int] = self._database.table(SEQUENCES)
        sequences[COMMENTS] = sequences.get(COMMENTS, 0) + 1
        return CommentId(sequences[COMMENTS])

    async def add(self, comment: Comment) -> None:
        """Store a new comment."""
        self._comments[comment.id] = detached(comment)

    async def get(self, comment_id: CommentId, article_id: ArticleId) -> Comment | None:
        """A copy of the comment, if it is under this article."""
        comment = self._comments.get(comment_id)
        return detached(comment) if comment and comment.article_id == article_id else None

    async def remove(self, comment_id: CommentId) -> bool:
        """Forget the comment; False if it was gone."""
        return self._comments.pop(comment_id, None) is not None


class InMemoryArticleReader(_Tables, ArticleReader):
    """The `ArticleReader` port over the in-memory database."""

    async def by_slug(self, slug: str, *, viewer: UserId | None) -> ArticleView | None:
        """The article with its body."""
        article = self._article_with_slug(slug)
        return self._view(article, viewer, with_body=True) if article else None

    async def page(self, query: ArticleQuery, *, viewer: UserId | None) -> ArticlePage:
        """Filter, order newest first with ties by id, and slice."""
        matches = [a for a in self._articles.values() if self._matches(a, query)]
        matches.sort(key=lambda a: (a.created_at, a.id.value), reverse=True)
        page = matches[query.offset : query.offset + query.limit]
        return ArticlePage(
            articles=[self._view(a, viewer, with_body=False) for a in page], total=len(matches)
        )

    async def tags(self) -> Sequence[str]:
        """Tags by use, then by name."""
        uses = Counter(name for a in self._articles.values() for name in a.tags.names)
        return sorted(uses, key=lambda name: (-uses[name], name))

    def _matches(self, article: Article, query: ArticleQuery) -> bool:
        checks: list[Any] = []
        if query.tag is not None:
            checks.append(query.tag in article.tags.names)
        if query.author is not None:
            author = self._user_named(query.author)
            checks.append(author is not None and author.id == article.author_id)
        if query.favorited is not None:
            fan = self._user_named(query.favorited)
            checks.append(fan is not None and (fan.id, article.id) in self._favorites)
        if query.followed_by is not None:
            checks.append((query.followed_by, article.author_id) in self._follows)
        return all(checks)

    def _view(self, article: Article, viewer: UserId | None, *, with_body: bool) -> ArticleView:
        return ArticleView(
            slug=str(article.slug),
            title=str(article.title),
            description=str(article.description),
            body=str(article.body) if with_body else None,
            tags=article.tags.names,
            created_at=article.created_at,
            updated_at=article.updated_at,
            favorited=viewer is not None and (viewer, article.id) in self._favorites,
            favorites_count=sum(1 for _, a in self._favorites if a == article.id),
            author=self._profile(article.author_id, viewer),
        )


class InMemoryCommentReader(_Tables, CommentReader):
    """The `CommentReader` port over the in-memory database."""

    async def for_article(
        self, slug: str, *, viewer: UserId | None, limit: int, offset: int
    ) -> Sequence[CommentView] | None:
        """The article's comments, newest first with ties by id; None without the article."""
        article = self._article_with_slug(slug)
        if article is None:
            return None
        found = [c for c in self._comments.values() if c.article_id == article.id]
        found.sort(key=lambda c: (c.created_at, c.id.value), reverse=True)
        return [
            CommentView(
                id=c.id.value,
                body=str(c.body),
                created_at=c.created_at,
                updated_at=c.updated_at,
                author=self._profile(c.author_id, viewer),
            )
            for c in found[offset : offset + limit]
        ]
