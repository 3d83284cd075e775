"""Audit entries as they cross the wire, and the query parameters that select them.

An entry is declared once, here: the admin's page (`AuditPageResponse`) and the live stream
send `AuditLogEntry`, with the hashes that chain it; a user's own history
(`ActivityResponse`) sends `ActivityEntry`, the same without them. The bounds of the query
parameters are the ones the use cases check (`application.audit.policy`), so the document
and the check cannot drift.
"""

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

import msgspec
from litestar.params import HeaderParameter, Parameter, QueryParameter

from application.audit.policy import DEFAULT_PAGE, MAX_PAGE, MAX_RANGE
from domain.audit.entry import ACTION_PATTERN, MAX_TEXT_CHARS, ActorKind, AuditEntry, Outcome
from domain.shared.changes import ChangeValue
from entrypoints.http.middleware.request_id import REQUEST_ID_PATTERN
from entrypoints.http.schemas.constraints import END_OF_TEXT

AuditLimit = Annotated[
    int,
    Parameter(
        ge=1,
        le=MAX_PAGE,
        description=f"Entries per page, 1 to {MAX_PAGE} (default {DEFAULT_PAGE}).",
    ),
]
AuditCursor = Annotated[
    str | None,
    Parameter(
        description="The `nextCursor` of the previous page, as it came: the next page "
        "continues after it. A cursor this server did not make is refused (422).",
    ),
]
ActorIdFilter = Annotated[
    UUID | None,
    QueryParameter(name="actorId", description="Only what this user did, by user id."),
]
ActionFilter = Annotated[
    str | None,
    Parameter(
        # ACTION_PATTERN ends in `$`, which Python lets match before a final newline.
        pattern=ACTION_PATTERN.removesuffix("$") + END_OF_TEXT,
        description="Only this action, `context.verb`: `article.update`, `route.access`.",
    ),
]
TargetTypeFilter = Annotated[
    str | None,
    QueryParameter(
        name="targetType",
        max_length=MAX_TEXT_CHARS,
        description="Only actions on this kind of target: `article`, `user`, `route`.",
    ),
]
TargetIdFilter = Annotated[
    str | None,
    QueryParameter(
        name="targetId",
        max_length=MAX_TEXT_CHARS,
        description="Only actions on this target (a slug, a user id); needs `targetType`.",
    ),
]
OutcomeFilter = Annotated[
    Outcome | None, Parameter(description="Only attempts that ended this way.")
]
_TIME = "ISO 8601 with a time zone"
_RANGE = f"`until` must be after `since`, by at most {MAX_RANGE.days} days."
SinceFilter = Annotated[
    datetime | None,
    Parameter(description=f"Only entries at or after this moment, {_TIME}. {_RANGE}"),
]
UntilFilter = Annotated[
    datetime | None,
    Parameter(description=f"Only entries before this moment, {_TIME}. {_RANGE}"),
]
RequestIdFilter = Annotated[
    str | None,
    QueryParameter(
        name="requestId",
        pattern=REQUEST_ID_PATTERN,
        description="Only what one request did: its `X-Request-ID`.",
    ),
]
LastEventId = Annotated[
    int | None,
    HeaderParameter(
        name="Last-Event-ID",
        ge=0,
        schema_extra={"minimum": 0},  # Litestar leaves a bound of 0 out (schemas/pagination.py)
        description="The `id` of the last event received: the stream resumes after it. "
        f"Without it, the stream starts with the latest {DEFAULT_PAGE} entries.",
    ),
]


class EntryActor(msgspec.Struct, kw_only=True, rename="camel"):
    """Who acted: a user (by id and their username then), an anonymous caller, or a process."""

    kind: ActorKind
    user_id: str | None
    username: str | None
    process: str | None


class EntryTarget(msgspec.Struct, kw_only=True):
    """What was acted on: its type, and its id where it has one."""

    type: str
    id: str | None


class EntryChange(msgspec.Struct, kw_only=True):
    """One changed field; a secret field's values read ``[redacted]``."""

    field: str
    before: ChangeValue
    after: ChangeValue


class ActivityEntry(msgspec.Struct, kw_only=True, rename="camel"):
    """One audit entry: who did what to what, when, from where, and how it ended."""

    seq: int
    occurred_at: datetime
    actor: EntryActor
    action: str
    target: EntryTarget
    outcome: Outcome
    reason: str | None
    changes: list[EntryChange]
    request_id: str | None
    client_ip: str | None
    user_agent: str | None

    @classmethod
    def of(cls, entry: AuditEntry) -> "ActivityEntry":
        """The entry as its subject sees it."""
        record = entry.record
        actor = record.actor
        return ActivityEntry(
            seq=entry.seq,
            occurred_at=record.occurred_at.astimezone(UTC),
            actor=EntryActor(
                kind=actor.kind,
                user_id=actor.user_id,
                username=actor.username,
                process=actor.process,
            ),
            action=record.action,
            target=EntryTarget(type=record.target_type, id=record.target_id),
            outcome=record.outcome,
            reason=record.reason,
            changes=[
                EntryChange(field=change.name, before=change.before, after=change.after)
                for change in record.changes
            ],
            request_id=record.request_id,
            client_ip=record.client_ip,
            user_agent=record.user_agent,
        )


class AuditLogEntry(ActivityEntry, kw_only=True, rename="camel"):
    """An audit entry with the hashes that chain it (hex SHA-256).

    `hash` covers the entry's content, its `seq` and `previousHash`, the hash of the entry
    before, so an edited, removed or inserted entry breaks the chain.
    """

    previous_hash: str
    hash: str

    @classmethod
    def of(cls, entry: AuditEntry) -> "AuditLogEntry":
        """The entry as an admin sees it."""
        return AuditLogEntry(
            **msgspec.structs.asdict(ActivityEntry.of(entry)),
            previous_hash=entry.previous_hash.hex(),
            hash=entry.hash.hex(),
        )


class AuditPageResponse(msgspec.Struct, kw_only=True, rename="camel"):
    """One page, newest first; `nextCursor` continues it (null on the last page).

    `count` is how many entries match in all, counted up to a cap; `countCapped` says
    there may be more.
    """

    entries: list[AuditLogEntry]
    next_cursor: str | None
    count: int
    count_capped: bool


class ActivityResponse(msgspec.Struct, kw_only=True, rename="camel"):
    """One page of the caller's history, newest first; `nextCursor` continues it."""

    entries: list[ActivityEntry]
    next_cursor: str | None


AUDIT_EVENT = "audit"
"""The name of the stream's event carrying an entry."""
