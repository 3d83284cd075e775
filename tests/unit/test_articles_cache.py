"""Anonymous article reads come from the cache, go stale on writes, and survive its failure."""

from collections import Counter
from collections.abc import Sequence

import pytest
from loguru import logger

from adapters.cache.articles import CachingArticleReader
from adapters.inprocess.cache import InProcessCache
from application.articles.ports import ArticlePage, ArticleQuery, ArticleReader, ArticleView
from application.articles.read_cache import CONTENT_GENERATION_KEY, ContentReadCache
from application.common.ports.cache import CacheUnavailableError
from domain.users.values import UserId
from tests.support.articles import ArticlesWorld

QUERY = ArticleQuery(limit=20, offset=0)


class CountingReader:
    """Our own port, recording which reads reached it."""

    def __init__(self, inner: ArticleReader) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    async def by_slug(self, slug: str, *, viewer: UserId | None) -> ArticleView | None:
        self.calls["by_slug"] += 1
        return await self.inner.by_slug(slug, viewer=viewer)

    async def page(self, query: ArticleQuery, *, viewer: UserId | None) -> ArticlePage:
        self.calls["page"] += 1
        return await self.inner.page(query, viewer=viewer)

    async def tags(self) -> Sequence[str]:
        self.calls["tags"] += 1
        return await self.inner.tags()


class BrokenCache:
    """A cache whose store is down."""

    async def get(self, key: str) -> bytes | None:
        raise CacheUnavailableError("ConnectionError")

    async def set(self, key: str, value: bytes, *, ttl_seconds: int) -> None:
        raise CacheUnavailableError("ConnectionError")

    async def delete(self, key: str) -> None:
        raise CacheUnavailableError("ConnectionError")

    async def increment(self, key: str) -> int:
        raise CacheUnavailableError("ConnectionError")


@pytest.fixture
async def world() -> ArticlesWorld:
    world = ArticlesWorld()
    alice = await world.writer("alice")
    await world.publish(alice, "Cached", tags=("t",))
    return world


def caching(
    world: ArticlesWorld, cache: object | None = None
) -> tuple[CachingArticleReader, CountingReader]:
    counting = CountingReader(world.article_reader)
    reader = CachingArticleReader(counting, cache or world.cache, ttl_seconds=60)  # type: ignore[arg-type]
    return reader, counting


async def test_anonymous_reads_are_served_from_the_cache(world: ArticlesWorld) -> None:
    reader, counting = caching(world)
    for _ in range(3):
        article = await reader.by_slug("cached", viewer=None)
        page = await reader.page(QUERY, viewer=None)
        tags = await reader.tags()
    assert article is not None
    assert article.title == "Cached"
    assert [a.slug for a in page.articles] == ["cached"]
    assert page.total == 1
    assert list(tags) == ["t"]
    assert counting.calls == {"by_slug": 1, "page": 1, "tags": 1}


async def test_signed_in_reads_and_the_feed_always_reach_the_database(world: ArticlesWorld) -> None:
    reader, counting = caching(world)
    viewer = (await world.writer("bob")).user_id
    for _ in range(2):
        await reader.by_slug("cached", viewer=viewer)
        await reader.page(QUERY, viewer=viewer)
        await reader.page(ArticleQuery(limit=20, offset=0, followed_by=viewer), viewer=None)
    assert counting.calls == {"by_slug": 2, "page": 4}


async def test_each_query_has_its_own_entry_and_a_missing_article_is_not_cached(
    world: ArticlesWorld,
) -> None:
    reader, counting = caching(world)
    await reader.page(QUERY, viewer=None)
    await reader.page(ArticleQuery(tag="t", limit=20, offset=0), viewer=None)
    assert await reader.by_slug("missing", viewer=None) is None
    assert await reader.by_slug("missing", viewer=None) is None
    assert counting.calls == {"page": 2, "by_slug": 2}


async def test_a_write_makes_every_cached_read_stale(world: ArticlesWorld) -> None:
    reader, counting = caching(world)
    await reader.page(QUERY, viewer=None)
    await world.publish(await world.writer("bob"), "Fresh")
    page = await reader.page(QUERY, viewer=None)
    assert [a.slug for a in page.articles] == ["fresh", "cached"]
    await world.read_cache.invalidate()
    await reader.page(QUERY, viewer=None)
    assert counting.calls == {"page": 3}


async def test_a_write_commits_and_answers_when_the_cache_cannot_be_invalidated(
    world: ArticlesWorld, caplog: pytest.LogCaptureFixture
) -> None:
    world.read_cache = ContentReadCache(BrokenCache())  # type: ignore[arg-type]
    article = await world.publish(await world.writer("bob"), "Fresh")
    assert article.slug == "fresh"
    assert world.event_types()[-1] == "article.published"
    assert any(
        record.getMessage().startswith("content cache unavailable") for record in caplog.records
    ), caplog.records


async def test_an_unreadable_entry_is_reloaded(world: ArticlesWorld) -> None:
    reader, counting = caching(world)
    await reader.tags()
    generation = (await world.cache.get(CONTENT_GENERATION_KEY) or b"0").decode()
    await world.cache.set(f"content:{generation}:tags", b"{not json", ttl_seconds=60)
    assert list(await reader.tags()) == ["t"]
    assert counting.calls == {"tags": 2}


async def test_a_failing_cache_falls_back_to_the_database_and_says_so_once(
    world: ArticlesWorld,
) -> None:
    working, _ = caching(world, InProcessCache())
    await working.tags()  # the process-wide outage log starts from "up"
    reader, counting = caching(world, BrokenCache())
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(message.record["message"]), level="INFO")
    try:
        article = await reader.by_slug("cached", viewer=None)
        tags = await reader.tags()
        await working.tags()
    finally:
        logger.remove(sink)
    assert article is not None
    assert list(tags) == ["t"]
    assert counting.calls == {"by_slug": 1, "tags": 1}
    assert sum(line.startswith("content cache unavailable") for line in lines) == 1, lines
    assert sum(line.startswith("content cache available again") for line in lines) == 1, lines


async def test_entries_expire_with_their_ttl(world: ArticlesWorld) -> None:
    now = [0.0]
    cache = InProcessCache(clock=lambda: now[0])
    reader, counting = caching(world, cache)
    await reader.tags()
    now[0] = 59.0
    await reader.tags()
    now[0] = 61.0
    await reader.tags()
    assert counting.calls == {"tags": 2}
