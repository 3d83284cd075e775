"""Use case: an admin reads the audit log, filtered, newest first, a page at a time."""

from collections.abc import Sequence
from dataclasses import dataclass, field

from application.audit.cursors import decode_cursor, encode_cursor
from application.audit.policy import COUNT_CAP, DEFAULT_PAGE, MAX_PAGE, MAX_RANGE, AuditPolicy
from application.audit.ports import AuditFilter, AuditLog
from application.common.errors import InvalidInputError
from domain.audit.entry import AuditEntry


@dataclass(frozen=True, slots=True, kw_only=True)
class ListAuditEntriesCommand:
    """The filters; `cursor` continues a previous page."""

    filters: AuditFilter = field(default_factory=AuditFilter)
    cursor: str | None = None
    limit: int = DEFAULT_PAGE


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditPage:
    """One page, the cursor to the next (None on the last), and how many match in all.

    `count` stops at `COUNT_CAP`; `count_capped` says there may be more.
    """

    entries: Sequence[AuditEntry]
    next_cursor: str | None
    count: int
    count_capped: bool


def check_limit(limit: int) -> None:
    """A page holds 1 to `MAX_PAGE` entries."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInputError(f"must be between 1 and {MAX_PAGE}", field="limit")


def check_filter(filters: AuditFilter) -> None:
    """`InvalidInputError` naming the field at fault, if the filter is not one to run."""
    if filters.target_id is not None and filters.target_type is None:
        raise InvalidInputError("needs targetType", field="targetId")
    since, until = filters.since, filters.until
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInputError("needs a time zone", field=name)
    if since is not None and until is not None:
        if until <= since:
            raise InvalidInputError("must be after since", field="until")
        if until - since > MAX_RANGE:
            raise InvalidInputError(
                f"may be at most {MAX_RANGE.days} days after since", field="until"
            )


def split_page(
    entries: Sequence[AuditEntry], limit: int, key: bytes
) -> tuple[Sequence[AuditEntry], str | None]:
    """The first `limit` of `limit + 1` entries read, and the cursor past them if more remain."""
    page = entries[:limit]
    more = len(entries) > limit
    return page, encode_cursor(key, page[-1].seq) if more else None


def continued_from(cursor: str | None, key: bytes) -> int | None:
    """The sequence number a page continues before, from its cursor."""
    return None if cursor is None else decode_cursor(key, cursor)


class ListAuditEntries:
    """Read a filtered page of the audit log.

    Rules:
    - Newest first; a page is one statement, served by the index of its filter.
    - `limit` is 1 to 100; a time range is at most 366 days, and `until` after `since`.
    - A cursor this server did not make is refused (`InvalidInputError` on ``cursor``).
    """

    def __init__(self, log: AuditLog, policy: AuditPolicy) -> None:
        self._log = log
        self._policy = policy

    async def __call__(self, command: ListAuditEntriesCommand) -> AuditPage:
        """The page, its continuation, and the count of every match."""
        check_limit(command.limit)
        check_filter(command.filters)
        key = self._policy.signing_key
        entries = await self._log.newest(
            command.filters,
            before_seq=continued_from(command.cursor, key),
            limit=command.limit + 1,
        )
        page, next_cursor = split_page(entries, command.limit, key)
        count = await self._log.count(command.filters, cap=COUNT_CAP)
        return AuditPage(
            entries=page, next_cursor=next_cursor, count=count, count_capped=count >= COUNT_CAP
        )
