"""Use case: follow the audit log as it grows, for `audit tail`, exports and the live stream."""

from collections.abc import Sequence
from datetime import datetime

from application.audit.policy import MAX_PAGE
from application.audit.ports import AuditFilter, AuditLog
from domain.audit.entry import AuditEntry


class ReadAuditFeed:
    """Entries in chain order, after a known one, for readers that follow the log.

    Rules:
    - `latest` gives the newest `limit` entries, oldest first, to start from.
    - `after` gives what came after entry `seq`, at most `limit` (1 to `MAX_PAGE` for
      callers at the edge; batch readers pass more), optionally within a time range.
    """

    def __init__(self, log: AuditLog) -> None:
        self._log = log

    async def latest(self, limit: int = MAX_PAGE) -> Sequence[AuditEntry]:
        """The newest entries, oldest first."""
        newest = await self._log.newest(AuditFilter(), before_seq=None, limit=limit)
        return list(reversed(newest))

    async def after(
        self,
        seq: int,
        *,
        limit: int = MAX_PAGE,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Sequence[AuditEntry]:
        """What came after entry `seq`, in chain order."""
        filters = None if since is None and until is None else AuditFilter(since=since, until=until)
        return await self._log.oldest_first(after_seq=seq, limit=limit, filters=filters)
