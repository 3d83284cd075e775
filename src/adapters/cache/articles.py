"""Anonymous article reads served from the cache, under the current content generation."""

import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import msgspec

from adapters.inprocess.metrics import NO_METRICS
from adapters.system.outage_log import OutageLog
from application.articles.ports import ArticlePage, ArticleQuery, ArticleReader, ArticleView
from application.articles.read_cache import CONTENT_GENERATION_KEY
from application.common.ports.cache import Cache, CacheUnavailableError
from application.common.ports.metrics import CacheLookup, CacheMetrics
from domain.users.values import UserId

_log = logging.getLogger(__name__)
_outage = OutageLog("content cache", what_waits="anonymous reads go to the database")
"""One per process: each request has its own reader, but an outage is logged once."""
_Value = TypeVar("_Value")
_encoder = msgspec.json.Encoder()
_article = msgspec.json.Decoder(ArticleView)
_page = msgspec.json.Decoder(ArticlePage)
_tags = msgspec.json.Decoder(list[str])
_CACHE = "content"


class CachingArticleReader(ArticleReader):
    """An `ArticleReader` that answers anonymous reads from the cache when it can.

    What a signed-in viewer sees depends on them (follow and favorite flags), so their
    reads, and the feed, always go to the inner reader. Keys carry the content generation,
    which writes bump (see `application.articles.read_cache`). When the cache fails, the
    inner reader answers and the outage is logged, once: the request never fails because of it.
    Each read of an entry is counted as a hit, a miss or unavailable, under the `content`
    cache.
    """

    def __init__(
        self,
        inner: ArticleReader,
        cache: Cache,
        *,
        ttl_seconds: int,
        metrics: CacheMetrics = NO_METRICS,
    ) -> None:
        self._inner = inner
        self._cache = cache
        self._ttl_seconds = ttl_seconds
        self._metrics = metrics

    async def by_slug(self, slug: str, *, viewer: UserId | None) -> ArticleView | None:
        """Cached for anonymous viewers; a missing article is not cached."""
        if viewer is not None:
            return await self._inner.by_slug(slug, viewer=viewer)
        return await self._through(
            f"article:{slug}", lambda: self._inner.by_slug(slug, viewer=None), _article.decode
        )

    async def page(self, query: ArticleQuery, *, viewer: UserId | None) -> ArticlePage:
        """Cached for anonymous viewers, per filter and page."""
        if viewer is not None or query.followed_by is not None:
            return await self._inner.page(query, viewer=viewer)
        fingerprint = hashlib.blake2b(_encoder.encode(query), digest_size=16).hexdigest()
        loaded = await self._through(
            f"articles:{fingerprint}", lambda: self._inner.page(query, viewer=None), _page.decode
        )
        assert loaded is not None  # noqa: S101 - the inner reader always returns a page
        return loaded

    async def tags(self) -> Sequence[str]:
        """Cached for everyone: tags do not depend on the viewer."""
        loaded = await self._through("tags", self._inner.tags, _tags.decode)
        assert loaded is not None  # noqa: S101 - the inner reader always returns a list
        return loaded

    async def _through(
        self,
        name: str,
        load: Callable[[], Awaitable[_Value | None]],
        decode: Callable[[bytes], Any],
    ) -> _Value | None:
        try:
            generation = (await self._cache.get(CONTENT_GENERATION_KEY) or b"0").decode()
            key = f"content:{generation}:{name}"
            cached = await self._cache.get(key)
        except CacheUnavailableError as exc:
            _outage.down(exc)
            self._metrics.cache_looked_up(cache=_CACHE, lookup=CacheLookup.UNAVAILABLE)
            return await load()
        _outage.up()
        if cached is not None:
            try:
                value: _Value = decode(cached)
            except msgspec.DecodeError:
                _log.warning("content cache entry %s is unreadable; reloading it", key)
            else:
                self._metrics.cache_looked_up(cache=_CACHE, lookup=CacheLookup.HIT)
                return value
        self._metrics.cache_looked_up(cache=_CACHE, lookup=CacheLookup.MISS)
        loaded = await load()
        if loaded is not None:
            try:
                await self._cache.set(key, _encoder.encode(loaded), ttl_seconds=self._ttl_seconds)
            except CacheUnavailableError as exc:
                _outage.down(exc)
        return loaded
