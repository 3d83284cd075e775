"""The cached anonymous content reads, and how writes invalidate them.

Every cached content read is keyed under the current content generation. A write that
changes what anonymous readers see bumps the generation after it commits, which makes every
older entry unreachable at once; the entries then expire on their own.
"""

import logging

from application.common.ports.cache import Cache, CacheUnavailableError

CONTENT_GENERATION_KEY = "content:generation"
_log = logging.getLogger(__name__)


async def invalidate_content_reads(cache: Cache) -> None:
    """Make every cached content read stale; a failing cache is logged, never raised.

    When the store is down the cached entries cannot be served either, so the worst case
    is an entry that outlives the outage by at most its time to live.
    """
    try:
        await cache.increment(CONTENT_GENERATION_KEY)
    except CacheUnavailableError as exc:
        _log.warning("content cache unavailable (%s); cached reads expire by their TTL", exc)
