"""Seeding demo content on in-memory adapters: counts, determinism, idempotency, no events."""

from dataclasses import dataclass, field
from typing import Any

import pytest

from adapters.inprocess.cache import InProcessCache
from adapters.memory.articles import (
    ARTICLES,
    COMMENTS,
    FAVORITES,
    InMemoryArticleRepository,
    InMemoryCommentRepository,
)
from adapters.memory.database import InMemoryDatabase
from adapters.memory.security import InMemoryPasswordHasher
from adapters.memory.system import ManualClock, SequentialIdGenerator
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from adapters.memory.users import FOLLOWS, USERS, InMemoryUserRepository
from application.articles.read_cache import CONTENT_GENERATION_KEY, ContentReadCache
from application.common.errors import InvalidInputError
from application.demo.seed_content import SeedDemoContent, SeedDemoContentCommand, SeedReport
from application.demo.vocabulary import DEMO_TAGS
from domain.articles.article import Article
from domain.articles.comment import Comment
from domain.shared.errors import DomainError
from domain.users.user import User
from domain.users.values import Password


@dataclass
class SeedWorld:
    """One in-memory database and the seeding use case over it."""

    database: InMemoryDatabase = field(default_factory=InMemoryDatabase)
    clock: ManualClock = field(default_factory=ManualClock)
    hasher: InMemoryPasswordHasher = field(default_factory=InMemoryPasswordHasher)
    cache: InProcessCache = field(default_factory=InProcessCache)

    def seeder(self) -> SeedDemoContent:
        return SeedDemoContent(
            uow=InMemoryUnitOfWork(self.database, SequentialIdGenerator()),
            users=InMemoryUserRepository(self.database),
            articles=InMemoryArticleRepository(self.database),
            comments=InMemoryCommentRepository(self.database),
            hasher=self.hasher,
            clock=self.clock,
            read_cache=ContentReadCache(self.cache),
        )

    async def seed(self, **overrides: Any) -> SeedReport:
        return await self.seeder()(command(**overrides))

    def rows(self, table: str) -> dict[Any, Any]:
        return self.database.table(table)

    def usernames(self) -> list[str]:
        return sorted(str(user.username) for user in self.users())

    def slugs(self) -> list[str]:
        return sorted(str(article.slug) for article in self.articles())

    def comment_bodies(self) -> list[tuple[str, str]]:
        slug_of = {article.id: str(article.slug) for article in self.articles()}
        comments: list[Comment] = list(self.rows(COMMENTS).values())
        return sorted((slug_of[c.article_id], str(c.body)) for c in comments)

    def users(self) -> list[User]:
        return list(self.rows(USERS).values())

    def articles(self) -> list[Article]:
        return list(self.rows(ARTICLES).values())

    def counts(self) -> dict[str, int]:
        tables = (USERS, FOLLOWS, ARTICLES, COMMENTS, FAVORITES)
        return {name: len(self.rows(name)) for name in tables}


def command(**overrides: Any) -> SeedDemoContentCommand:
    values: dict[str, Any] = {
        "users": 6,
        "articles": 8,
        "comments": 30,
        "seed": 1,
        "password": "password123",
    }
    return SeedDemoContentCommand(**(values | overrides))


async def test_creates_the_counts_asked_for() -> None:
    world = SeedWorld()
    report = await world.seed()
    assert (report.users_created, report.articles_created, report.comments_created) == (6, 8, 30)
    assert world.counts()[USERS] == 6
    assert world.counts()[ARTICLES] == 8
    assert world.counts()[COMMENTS] == 30
    assert report.follows_created == world.counts()[FOLLOWS] > 0
    assert report.favorites_created == world.counts()[FAVORITES] > 0
    assert report.users_skipped == report.articles_skipped == report.comments_skipped == 0


async def test_the_content_is_valid_and_varied() -> None:
    world = SeedWorld()
    await world.seed(users=10, articles=20, comments=60)
    user_ids = {user.id for user in world.users()}
    assert len({str(user.email) for user in world.users()}) == 10
    for article in world.articles():
        assert article.author_id in user_ids
        assert 1 <= len(article.tags.tags) <= 4
        assert set(article.tags.names) <= set(DEMO_TAGS)
        assert article.created_at < world.clock.now()
    for follower, followee in world.rows(FOLLOWS):
        assert follower != followee
    articles = {article.id: article for article in world.articles()}
    for user_id, article_id in world.rows(FAVORITES):
        assert user_id != articles[article_id].author_id
    comments: list[Comment] = list(world.rows(COMMENTS).values())
    assert all(c.created_at >= articles[c.article_id].created_at for c in comments)
    assert len({c.article_id for c in comments}) > 1


async def test_every_user_gets_the_password_hashed_once() -> None:
    world = SeedWorld()
    await world.seed(password="correct horse")
    hashes = {user.password_hash for user in world.users()}
    assert len(hashes) == 1
    assert await world.hasher.verify(hashes.pop(), Password("correct horse"))


async def test_the_same_seed_makes_the_same_content() -> None:
    first, second = SeedWorld(), SeedWorld()
    await first.seed(seed=7)
    await second.seed(seed=7)
    assert first.usernames() == second.usernames()
    assert first.slugs() == second.slugs()
    assert first.comment_bodies() == second.comment_bodies()
    assert first.rows(FOLLOWS) == second.rows(FOLLOWS)
    assert first.rows(FAVORITES) == second.rows(FAVORITES)


async def test_another_seed_makes_other_content() -> None:
    first, second = SeedWorld(), SeedWorld()
    await first.seed(seed=1)
    await second.seed(seed=2)
    assert first.usernames() != second.usernames()
    assert not set(first.slugs()) & set(second.slugs())
    assert first.comment_bodies() != second.comment_bodies()


async def test_a_second_run_adds_nothing() -> None:
    world = SeedWorld()
    await world.seed()
    before = world.counts()
    again = await world.seed()
    assert world.counts() == before
    assert again.created_total == 0
    assert (again.users_skipped, again.articles_skipped, again.comments_skipped) == (6, 8, 30)
    assert again.follows_skipped == before[FOLLOWS]
    assert again.favorites_skipped == before[FAVORITES]


async def test_a_larger_run_keeps_what_exists_and_adds_the_rest() -> None:
    world = SeedWorld()
    await world.seed(users=4, articles=3, comments=0)
    usernames, slugs = world.usernames(), world.slugs()
    report = await world.seed(users=6, articles=5, comments=0)
    assert (report.users_created, report.users_skipped) == (2, 4)
    assert (report.articles_created, report.articles_skipped) == (2, 3)
    assert set(usernames) <= set(world.usernames())
    assert set(slugs) <= set(world.slugs())


async def test_seeding_raises_no_events() -> None:
    world = SeedWorld()
    await world.seed()
    assert world.database.outbox == []


async def test_cached_content_reads_are_invalidated_only_when_something_was_created() -> None:
    world = SeedWorld()
    await world.seed()
    assert await world.cache.get(CONTENT_GENERATION_KEY) == b"1"
    await world.seed()
    assert await world.cache.get(CONTENT_GENERATION_KEY) == b"1"


async def test_progress_adds_up_to_everything_asked_for() -> None:
    world = SeedWorld()
    steps: list[int] = []
    await world.seeder()(command(articles=60, comments=90), steps.append)
    assert sum(steps) == command(articles=60, comments=90).total_items == 6 + 60 + 90
    assert len(steps) > 2


async def test_users_only() -> None:
    world = SeedWorld()
    report = await world.seed(articles=0, comments=0)
    assert report.users_created == 6
    assert world.counts()[ARTICLES] == 0


@pytest.mark.parametrize(
    ("overrides", "field_name"),
    [
        ({"users": 0}, "users"),
        ({"users": 100_001}, "users"),
        ({"articles": -1}, "articles"),
        ({"comments": -1}, "comments"),
        ({"articles": 0, "comments": 1}, "comments"),
    ],
)
def test_out_of_range_requests_are_refused(overrides: dict[str, int], field_name: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        command(**overrides)
    assert raised.value.field == field_name


def test_a_weak_password_is_refused() -> None:
    with pytest.raises(DomainError) as raised:
        command(password="short")
    assert raised.value.field == "password"
