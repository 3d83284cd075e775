"""The cached anonymous content reads, and how writes invalidate them.

Every cached content read is keyed under the current content generation. A write that
changes what anonymous readers see bumps the generation after it commits, which makes every
older entry unreachable at once; the entries then expire on their own.
"""

import logging

from application.common.ports.cache import Cache, CacheUnavailableError
from application.common.ports.unit_of_work import UnitOfWork

CONTENT_GENERATION_KEY = "content:generation"
_log = logging.getLogger(__name__)


class ContentReadCache:
    """The cached content reads, as the writes that make them stale see them.

    Rules:
    - A write in a transaction asks for `invalidate_after_commit`: the reads go stale once
      the outermost transaction commits, and a rollback leaves them as they are.
    - A failing cache is logged, never raised. When the store is down the cached entries
      cannot be served either, so the worst case is an entry that outlives the outage by at
      most its time to live.
    """

    def __init__(self, cache: Cache) -> None:
        self._cache = cache

    def invalidate_after_commit(self, uow: UnitOfWork) -> None:
        """Once `uow` commits, make every cached content read stale."""
        uow.after_commit(self.invalidate)

    async def invalidate(self) -> None:
        """Make every cached content read stale now."""
        try:
            await self._cache.increment(CONTENT_GENERATION_KEY)
        except CacheUnavailableError as exc:
            _log.warning("content cache unavailable (%s); cached reads expire by their TTL", exc)
