"""The audit log over HTTP: admins read and follow it, and every user reads their own history."""

import math
from typing import Any

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Request, get
from litestar.response import ServerSentEvent

from application.audit.list_audit_entries import ListAuditEntries, ListAuditEntriesCommand
from application.audit.list_own_activity import ListOwnActivity, ListOwnActivityCommand
from application.audit.policy import DEFAULT_PAGE, MAX_PAGE, MAX_RANGE
from application.audit.ports import AuditFilter
from application.audit.read_audit_feed import ReadAuditFeed
from application.common.errors import DependencyUnavailableError, TooManyRequestsError
from application.common.permissions import Permission
from application.common.ports.clock import Clock
from entrypoints.config.settings import Settings
from entrypoints.http.auth import Actor, presented_token, requires
from entrypoints.http.openapi import described_by, error_responses
from entrypoints.http.realtime.audit_stream import (
    AuditFollower,
    audit_events,
    release_request_scope,
)
from entrypoints.http.realtime.hub import ConnectionHub
from entrypoints.http.realtime.stream import FULL_RETRY_AFTER_SECONDS
from entrypoints.http.schemas.audit import (
    ActionFilter,
    ActivityEntry,
    ActivityResponse,
    ActorIdFilter,
    AuditCursor,
    AuditLimit,
    AuditLogEntry,
    AuditPageResponse,
    LastEventId,
    OutcomeFilter,
    RequestIdFilter,
    SinceFilter,
    TargetIdFilter,
    TargetTypeFilter,
    UntilFilter,
)

_BAD_CURSOR = "`cursor` is not one this server made (edited, or made up)."
_BAD_FILTER = (
    f"`until` is not after `since`, or more than {MAX_RANGE.days} days after it; `since` or "
    f"`until` has no time zone; `targetId` comes without `targetType`; or {_BAD_CURSOR}"
)


class AuditController(Controller):
    """The whole audit log, for the `audit:read` permission (administrators)."""

    path = "/api/admin/audit"
    tags = ["audit"]  # noqa: RUF012 - Litestar reads this class attribute
    opt = requires(Permission.READ_AUDIT)

    @get(
        summary="List audit entries",
        description=described_by(ListAuditEntries),
        responses=error_responses(unprocessable=_BAD_FILTER),
    )
    @inject
    async def list_entries(
        self,
        list_entries: FromDishka[ListAuditEntries],
        *,
        actor_id: ActorIdFilter = None,
        action: ActionFilter = None,
        target_type: TargetTypeFilter = None,
        target_id: TargetIdFilter = None,
        outcome: OutcomeFilter = None,
        since: SinceFilter = None,
        until: UntilFilter = None,
        request_id: RequestIdFilter = None,
        cursor: AuditCursor = None,
        limit: AuditLimit = DEFAULT_PAGE,
    ) -> AuditPageResponse:
        page = await list_entries(
            ListAuditEntriesCommand(
                filters=AuditFilter(
                    actor_id=None if actor_id is None else str(actor_id),
                    action=action,
                    target_type=target_type,
                    target_id=target_id,
                    outcome=outcome,
                    since=since,
                    until=until,
                    request_id=request_id,
                ),
                cursor=cursor,
                limit=limit,
            )
        )
        return AuditPageResponse(
            entries=[AuditLogEntry.of(entry) for entry in page.entries],
            next_cursor=page.next_cursor,
            count=page.count,
            count_capped=page.count_capped,
        )

    @get(
        "/stream",
        media_type="text/event-stream",
        summary="Live audit entries (SSE)",
        description=described_by(ReadAuditFeed),
        response_description=(
            "`text/event-stream`: each entry as `id: <seq>`, `event: audit` and `data:` the "
            "entry's JSON, as the list shows it. The stream ends with `event: expired`, "
            "`session_ended` or `forbidden` when the token expires, the session ends or the "
            "account loses `audit:read`; reconnect with `Last-Event-ID` to resume."
        ),
        responses=error_responses(
            too_many_requests=(
                "The caller has as many live connections as WS_MAX_CONNECTIONS_PER_USER."
            ),
            unavailable="The process serves as many live connections as WS_MAX_LIVE_CONNECTIONS.",
        ),
    )
    @inject
    async def stream(
        self,
        *,
        actor: Actor,
        request: Request[Any, Any, Any],
        read_feed: FromDishka[ReadAuditFeed],
        settings: FromDishka[Settings],
        clock: FromDishka[Clock],
        last_event_id: LastEventId = None,
    ) -> ServerSentEvent:
        hub: ConnectionHub = request.app.state.realtime_hub
        live = settings.websocket
        if hub.live >= live.max_live_connections:
            raise DependencyUnavailableError(
                "live streams are at capacity; retry later",
                field="stream",
                retry_after_seconds=FULL_RETRY_AFTER_SECONDS,
            )
        if not hub.has_room_for(actor.user_id):
            raise TooManyRequestsError(max(1, math.ceil(live.heartbeat_seconds)))
        if last_event_id is None:
            backlog = await read_feed.latest(DEFAULT_PAGE)
        else:
            backlog = await read_feed.after(last_event_id, limit=MAX_PAGE)
        follower = AuditFollower(
            # Where dishka keeps the app's container: tests/unit/test_reliances_http_stack.py
            container=request.app.state.dishka_container,
            token=presented_token(request),
            last_seq=last_event_id or 0,
            poll_seconds=settings.audit.stream_poll_seconds,
            heartbeat_seconds=live.heartbeat_seconds,
        )
        await release_request_scope(request)
        return ServerSentEvent(
            audit_events(
                hub, actor, backlog, follower, clock=clock, max_live=live.max_live_connections
            ),
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )


class ActivityController(Controller):
    """The caller's own security history."""

    path = "/api/user/activity"
    tags = ["audit"]  # noqa: RUF012 - Litestar reads this class attribute
    opt = requires(Permission.MANAGE_OWN_ACCOUNT)

    @get(
        summary="My account's activity",
        description=described_by(ListOwnActivity),
        responses=error_responses(unprocessable=_BAD_CURSOR),
    )
    @inject
    async def activity(
        self,
        actor: Actor,
        list_activity: FromDishka[ListOwnActivity],
        *,
        cursor: AuditCursor = None,
        limit: AuditLimit = DEFAULT_PAGE,
    ) -> ActivityResponse:
        page = await list_activity(
            ListOwnActivityCommand(user_id=actor.user_id, cursor=cursor, limit=limit)
        )
        return ActivityResponse(
            entries=[ActivityEntry.of(entry) for entry in page.entries],
            next_cursor=page.next_cursor,
        )
