"""The articles repositories and readers, on the memory and PostgreSQL adapters alike."""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from adapters.memory.articles import (
    InMemoryArticleReader,
    InMemoryArticleRepository,
    InMemoryCommentReader,
    InMemoryCommentRepository,
)
from adapters.memory.database import InMemoryDatabase
from adapters.memory.users import InMemoryUserRepository
from adapters.sqlalchemy.article_reader import SqlArticleReader, SqlCommentReader
from adapters.sqlalchemy.articles import SqlArticleRepository, SqlCommentRepository
from adapters.sqlalchemy.users import SqlUserRepository
from application.articles.errors import SlugTakenError
from application.articles.ports import (
    ArticleQuery,
    ArticleReader,
    ArticleRepository,
    CommentReader,
    CommentRepository,
)
from application.users.ports import UserRepository
from domain.articles.article import Article
from domain.articles.comment import Comment
from domain.articles.values import (
    ArticleId,
    Body,
    CommentBody,
    CommentId,
    Description,
    Slug,
    TagList,
    Title,
)
from domain.users.user import User
from domain.users.values import Email, UserId, Username
from tests.support.postgres import engine_for_tests, truncate_all

NOW = datetime(2026, 5, 1, tzinfo=UTC)


@dataclass
class Stores:
    users: UserRepository
    articles: ArticleRepository
    comments: CommentRepository
    reader: ArticleReader
    comment_reader: CommentReader

    async def user(self, number: int, name: str) -> UserId:
        user = User.register(
            id=UserId(UUID(int=number)),
            username=Username(name),
            email=Email.parse(f"{name}@test.com"),
            password_hash="hash",
            now=NOW,
        )
        await self.users.add(user)
        return user.id

    async def article(
        self,
        number: int,
        author: UserId,
        *,
        slug: str | None = None,
        tags: tuple[str, ...] = (),
        at: datetime = NOW,
    ) -> Article:
        article = Article.publish(
            id=ArticleId(UUID(int=1000 + number)),
            author_id=author,
            slug=Slug(slug or f"article-{number}"),
            title=Title(f"Article {number}"),
            description=Description("About it"),
            body=Body(f"Body {number}"),
            tags=TagList.parse(tags),
            now=at,
        )
        await self.articles.add(article)
        return article

    async def page(self, viewer: UserId | None = None, **query: object) -> list[str]:
        arguments: dict[str, object] = {"limit": 20, "offset": 0, **query}
        page = await self.reader.page(ArticleQuery(**arguments), viewer=viewer)  # type: ignore[arg-type]
        return [article.slug for article in page.articles]


@pytest.fixture(params=["memory", pytest.param("sqlalchemy", marks=pytest.mark.integration)])
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[Stores]:
    if request.param == "memory":
        database = InMemoryDatabase()
        yield Stores(
            InMemoryUserRepository(database),
            InMemoryArticleRepository(database),
            InMemoryCommentRepository(database),
            InMemoryArticleReader(database),
            InMemoryCommentReader(database),
        )
        return
    engine = engine_for_tests(request.getfixturevalue("migrated_url"))
    try:
        async with AsyncExitStack() as stack:
            connection = await stack.enter_async_context(engine.connect())
            await connection.begin()
            yield Stores(
                SqlUserRepository(connection),
                SqlArticleRepository(connection),
                SqlCommentRepository(connection),
                SqlArticleReader(connection),
                SqlCommentReader(connection),
            )
            await connection.commit()
    finally:
        await truncate_all(engine)
        await engine.dispose()


async def test_an_article_round_trips_with_its_tags_in_order(stores: Stores) -> None:
    alice = await stores.user(1, "alice")
    article = await stores.article(1, alice, tags=("zeta", "alpha", "mid"))
    loaded = await stores.articles.get_by_slug("article-1")
    assert loaded is not None
    assert (loaded.id, loaded.author_id, loaded.title, loaded.body) == (
        article.id,
        alice,
        article.title,
        article.body,
    )
    assert loaded.tags.names == ("zeta", "alpha", "mid")
    assert loaded.created_at == NOW
    assert not loaded.has_pending_events
    assert await stores.articles.get_by_slug("article-2") is None


async def test_a_taken_slug_is_refused_and_the_transaction_goes_on(stores: Stores) -> None:
    alice = await stores.user(1, "alice")
    await stores.article(1, alice, slug="same")
    with pytest.raises(SlugTakenError):
        await stores.article(2, alice, slug="same")
    await stores.article(3, alice, slug="other")
    assert sorted(await stores.page()) == ["other", "same"]


async def test_save_replaces_fields_and_tags(stores: Stores) -> None:
    alice = await stores.user(1, "alice")
    article = await stores.article(1, alice, tags=("a", "b"))
    article.edit(now=NOW + timedelta(hours=1), body=Body("New"), tags=TagList.parse(["c", "a"]))
    await stores.articles.save(article)
    view = await stores.reader.by_slug("article-1", viewer=None)
    assert view is not None
    assert (view.body, view.tags, view.updated_at) == ("New", ("c", "a"), NOW + timedelta(hours=1))
    assert await stores.reader.tags() == ["a", "c"]


@pytest.mark.parametrize(
    ("before", "after"),
    [(("a", "b"), ()), (("a", "b"), ("a", "b")), (("a", "b", "c"), ("c", "b", "a")), ((), ("n",))],
)
async def test_save_leaves_exactly_the_tags_the_article_carries(
    stores: Stores, before: tuple[str, ...], after: tuple[str, ...]
) -> None:
    alice = await stores.user(1, "alice")
    article = await stores.article(1, alice, tags=before)
    article.edit(now=NOW + timedelta(hours=1), body=Body("New"), tags=TagList.parse(after))
    await stores.articles.save(article)

    loaded = await stores.articles.get_by_slug("article-1", for_update=True)

    assert loaded is not None
    assert (loaded.tags.names, str(loaded.body)) == (after, "New")


async def test_removing_an_article_takes_its_comments_favorites_and_tags(stores: Stores) -> None:
    alice, bob = await stores.user(1, "alice"), await stores.user(2, "bob")
    article = await stores.article(1, alice, tags=("t",))
    await stores.articles.add_favorite(bob, article.id, at=NOW)
    comment = Comment.post(
        id=await stores.comments.next_id(),
        article=article,
        author_id=bob,
        body=CommentBody("hi"),
        now=NOW,
    )
    await stores.comments.add(comment)
    await stores.articles.remove(article.id)
    assert await stores.articles.get_by_slug("article-1") is None
    assert await stores.comments.get(comment.id, article.id) is None
    assert await stores.reader.tags() == []
    assert await stores.page(favorited="bob") == []


async def test_favorites_are_recorded_once_and_counted(stores: Stores) -> None:
    alice, bob = await stores.user(1, "alice"), await stores.user(2, "bob")
    article = await stores.article(1, alice)
    assert await stores.articles.add_favorite(bob, article.id, at=NOW)
    assert not await stores.articles.add_favorite(bob, article.id, at=NOW)
    assert await stores.articles.add_favorite(alice, article.id, at=NOW)
    seen_by_bob = await stores.reader.by_slug("article-1", viewer=bob)
    anonymous = await stores.reader.by_slug("article-1", viewer=None)
    assert seen_by_bob is not None
    assert anonymous is not None
    assert (seen_by_bob.favorited, seen_by_bob.favorites_count) == (True, 2)
    assert (anonymous.favorited, anonymous.favorites_count) == (False, 2)
    assert await stores.articles.remove_favorite(bob, article.id)
    assert not await stores.articles.remove_favorite(bob, article.id)


async def test_pages_are_newest_first_with_ties_by_id_and_count_every_match(
    stores: Stores,
) -> None:
    alice = await stores.user(1, "alice")
    for number in (3, 1, 2):
        await stores.article(number, alice)
    await stores.article(4, alice, at=NOW + timedelta(seconds=1))
    assert await stores.page() == ["article-4", "article-3", "article-2", "article-1"]
    page = await stores.reader.page(ArticleQuery(limit=2, offset=1), viewer=None)
    assert ([a.slug for a in page.articles], page.total) == (["article-3", "article-2"], 4)
    assert all(article.body is None for article in page.articles)
    for limit, offset in ((2, 10), (0, 0)):
        empty = await stores.reader.page(ArticleQuery(limit=limit, offset=offset), viewer=None)
        assert (list(empty.articles), empty.total) == ([], 4)


async def test_filters_and_the_viewers_flags(stores: Stores) -> None:
    alice, bob, carol = (
        await stores.user(1, "alice"),
        await stores.user(2, "bob"),
        await stores.user(3, "carol"),
    )
    by_alice = await stores.article(1, alice, tags=("x",))
    await stores.article(2, bob, tags=("x", "y"), at=NOW + timedelta(seconds=1))
    await stores.articles.add_favorite(carol, by_alice.id, at=NOW)
    await stores.users.add_follow(carol, bob, at=NOW)
    assert await stores.page(tag="x") == ["article-2", "article-1"]
    assert await stores.page(tag="y", author="bob") == ["article-2"]
    assert await stores.page(tag="y", author="alice") == []
    assert await stores.page(author="nobody") == []
    assert await stores.page(favorited="carol") == ["article-1"]
    assert await stores.page(followed_by=carol) == ["article-2"]
    assert await stores.page(followed_by=alice) == []
    seen = await stores.reader.page(ArticleQuery(limit=20, offset=0), viewer=carol)
    flags = {a.slug: (a.favorited, a.author.following) for a in seen.articles}
    assert flags == {"article-1": (True, False), "article-2": (False, True)}


async def test_tags_are_ordered_by_use_then_name(stores: Stores) -> None:
    alice = await stores.user(1, "alice")
    await stores.article(1, alice, tags=("b", "common"))
    await stores.article(2, alice, tags=("common", "a"))
    assert await stores.reader.tags() == ["common", "a", "b"]


async def test_comments_page_newest_first_under_their_article_only(stores: Stores) -> None:
    alice, bob = await stores.user(1, "alice"), await stores.user(2, "bob")
    article = await stores.article(1, alice)
    bare = await stores.article(2, alice)
    ids = []
    for minute, author in enumerate((alice, bob, alice)):
        comment = Comment.post(
            id=await stores.comments.next_id(),
            article=article,
            author_id=author,
            body=CommentBody(f"c{minute}"),
            now=NOW + timedelta(minutes=minute),
        )
        await stores.comments.add(comment)
        ids.append(comment.id.value)
    assert ids == sorted(ids)
    assert len(set(ids)) == 3
    await stores.users.add_follow(alice, bob, at=NOW)
    listed = await stores.comment_reader.for_article("article-1", viewer=alice, limit=2, offset=0)
    assert listed is not None
    assert [(c.body, c.author.username, c.author.following) for c in listed] == [
        ("c2", "alice", False),
        ("c1", "bob", True),
    ]
    rest = await stores.comment_reader.for_article("article-1", viewer=None, limit=5, offset=2)
    assert [c.body for c in rest or ()] == ["c0"]
    assert (
        await stores.comment_reader.for_article("article-2", viewer=None, limit=5, offset=0) == []
    )
    assert await stores.comment_reader.for_article("nope", viewer=None, limit=5, offset=0) is None
    assert await stores.comments.get(CommentId(ids[0]), bare.id) is None
    stored = await stores.comments.get(CommentId(ids[0]), article.id)
    assert stored is not None
    assert (stored.author_id, str(stored.body), stored.created_at) == (alice, "c0", NOW)
    await stores.comments.remove(CommentId(ids[0]))
    assert await stores.comments.get(CommentId(ids[0]), article.id) is None
