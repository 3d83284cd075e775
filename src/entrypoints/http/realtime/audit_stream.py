"""GET /api/admin/audit/stream: new audit entries as Server-Sent Events, for admins.

Each entry arrives as ``id: <seq>``, ``event: audit``, ``data: <entry JSON>`` (the entry as
``GET /api/admin/audit`` lists it). A client reconnecting with ``Last-Event-ID`` resumes
after that entry; one without starts with the latest few.

The stream follows the database, not this process: every AUDIT_STREAM_POLL_SECONDS it
asks for the entries after the last one sent, so it sees what every API process, worker
and CLI command writes. Each poll runs in a request scope of its own, and the request's
own scope is closed before the stream starts (`release_request_scope`), so a stream holds
no database connection between polls, however long it stays open.

Each poll also checks the caller again, as every request would: the stream ends when the
token expires (``event: expired``), when its session ends (``event: session_ended``), or
when the account no longer has `audit:read` (``event: forbidden``). A comment line is sent
when nothing was for WS_HEARTBEAT_SECONDS, so proxies keep the stream open. Streams count
against the live connections of the process and of the user (WS_MAX_LIVE_CONNECTIONS,
WS_MAX_CONNECTIONS_PER_USER) like the notification stream, and end when the process stops.
A client that goes away ends its stream at once.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from dishka import AsyncContainer
from litestar import Request
from litestar.response import ServerSentEventMessage

from adapters.system.outage_log import OutageLog
from application.audit.policy import MAX_PAGE
from application.audit.read_audit_feed import ReadAuditFeed
from application.common.errors import AuthenticationRequiredError, DependencyUnavailableError
from application.common.identity import Identity
from application.common.permissions import Permission, role_allows
from application.common.ports.clock import Clock
from application.users.authenticate import Authenticate, AuthenticateCommand
from domain.audit.entry import AuditEntry
from entrypoints.http.realtime.hub import ConnectionHub, ServerFullError, TooManyConnectionsError
from entrypoints.http.realtime.stream import RETRY_MILLISECONDS, SESSION_ENDED
from entrypoints.http.schemas.audit import AUDIT_EVENT, AuditLogEntry

EXPIRED = "expired"
FORBIDDEN = "forbidden"
_ENDINGS = {
    SESSION_ENDED: "session ended",
    FORBIDDEN: f"{Permission.READ_AUDIT.value} is required",
}
_REFUSED: dict[type[Exception], str] = {
    ServerFullError: "live streams are at capacity; retry later",
    TooManyConnectionsError: "too many connections",
}
_encoder = msgspec.json.Encoder()
_feed_outage = OutageLog("audit log", what_waits="live audit streams wait for it")
"""One per process, so an outage is logged once, not per stream and poll."""


async def release_request_scope(request: Request[Any, Any, Any]) -> None:
    """Close the request's dependency scope now, before its response streams.

    The guard read the caller's session through it, which checked a database connection
    out of the pool; the scope would otherwise hold it until the stream ends. Nothing of
    the scope is used after this; closing it again when the request ends does nothing
    (tests/unit/test_reliances_http_stack.py).
    """
    # Where dishka keeps it: tests/unit/test_reliances_http_stack.py
    container: AsyncContainer = request.state.dishka_container
    await container.close()


@dataclass(slots=True, kw_only=True)
class AuditFollower:
    """Where one stream stands, and how it reads on: the app's container and the caller's token."""

    container: AsyncContainer
    token: str = field(repr=False)
    last_seq: int
    poll_seconds: float
    heartbeat_seconds: float

    async def poll(self) -> Sequence[AuditEntry] | str:
        """The entries after the last one sent, or the event that ends the stream.

        In a request scope of its own, returned to the pool before the entries are sent.
        """
        async with self.container() as scope:
            authenticate = await scope.get(Authenticate)
            try:
                identity = await authenticate(AuthenticateCommand(token=self.token))
            except AuthenticationRequiredError:
                return SESSION_ENDED
            if not role_allows(identity.role, Permission.READ_AUDIT):
                return FORBIDDEN
            feed = await scope.get(ReadAuditFeed)
            return await feed.after(self.last_seq, limit=MAX_PAGE)


def entry_event(entry: AuditEntry) -> ServerSentEventMessage:
    """One entry as its event."""
    return ServerSentEventMessage(
        id=entry.seq, event=AUDIT_EVENT, data=_encoder.encode(AuditLogEntry.of(entry)).decode()
    )


async def audit_events(
    hub: ConnectionHub,
    identity: Identity,
    backlog: Sequence[AuditEntry],
    follower: AuditFollower,
    *,
    clock: Clock,
    max_live: int,
) -> AsyncIterator[ServerSentEventMessage]:
    """The stream: its place taken when it starts, the backlog, then what each poll finds.

    The place is taken when the stream starts, so a client gone before then leaves nothing
    behind, and given back when it ends, however it ends.
    """
    try:
        place = hub.hold(identity.user_id, max_live=max_live)
    except (ServerFullError, TooManyConnectionsError) as exc:
        yield ServerSentEventMessage(event="error", data=_REFUSED[type(exc)])
        return
    with place:
        yield ServerSentEventMessage(comment="connected", retry=RETRY_MILLISECONDS)
        for entry in backlog:
            yield entry_event(entry)
            follower.last_seq = entry.seq
        loop = asyncio.get_running_loop()
        quiet_since = loop.time()
        behind = len(backlog) >= MAX_PAGE
        while not hub.stopping.is_set():
            wait = 0.0 if behind else follower.poll_seconds
            if identity.expires_at is not None:
                left = (identity.expires_at - clock.now()).total_seconds()
                if left <= 0:
                    yield ServerSentEventMessage(event=EXPIRED, data="token expired")
                    return
                wait = min(wait, left)
            if wait and await _stopped_within(hub, wait):
                return
            found = await _polled(follower)
            if isinstance(found, str):
                yield ServerSentEventMessage(event=found, data=_ENDINGS[found])
                return
            for entry in found:
                yield entry_event(entry)
                follower.last_seq = entry.seq
            behind = len(found) >= MAX_PAGE
            if found:
                quiet_since = loop.time()
            elif loop.time() - quiet_since >= follower.heartbeat_seconds:
                yield ServerSentEventMessage(comment="heartbeat")
                quiet_since = loop.time()


async def _polled(follower: AuditFollower) -> Sequence[AuditEntry] | str:
    """One poll; nothing new while the database is unreachable, which the next poll retries."""
    try:
        found = await follower.poll()
    except DependencyUnavailableError as exc:
        _feed_outage.down(exc)
        return ()
    _feed_outage.up()
    return found


async def _stopped_within(hub: ConnectionHub, seconds: float) -> bool:
    """Wait `seconds`; True as soon as the process starts stopping."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(hub.stopping.wait(), timeout=seconds)
    return hub.stopping.is_set()
