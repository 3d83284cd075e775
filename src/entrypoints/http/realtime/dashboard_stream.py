"""GET /api/admin/dashboard/stream: the live dashboard as Server-Sent Events, for admins.

Every `DASHBOARD_TICK_SECONDS` the stream sends ``event: figures`` (the figures of every
process, `schemas.dashboard.DashboardFigures`) and, as ``id: <seq>``, ``event: audit``,
each audit entry written since the last one sent (the entry as ``GET /api/admin/audit``
lists it). The first figures hold the history asked for, the later ones the last few
seconds again. A client reconnecting with ``Last-Event-ID`` resumes the entries after that
one; one without starts with the latest few.

As the audit stream does (`audit_stream`): each tick runs in a request scope of its own and
the request's own scope is closed before the stream starts, so the stream holds no
database connection between ticks; each tick checks the caller again and the stream ends
with ``event: expired``, ``session_ended`` or ``forbidden``; streams count against
WS_MAX_LIVE_CONNECTIONS and WS_MAX_CONNECTIONS_PER_USER, and end when the process stops.
While the database is unreachable the check is skipped (no session can end without it:
ending one is a write) and the stream goes on with what Redis holds; the expiry of the
token is still checked, against the clock. The figures themselves are the heartbeat.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import msgspec
from dishka import AsyncContainer
from litestar.response import ServerSentEventMessage

from adapters.system.outage_log import OutageLog
from application.audit.policy import MAX_PAGE
from application.audit.read_audit_feed import ReadAuditFeed
from application.common.errors import AuthenticationRequiredError, DependencyUnavailableError
from application.common.identity import Identity
from application.common.permissions import Permission, role_allows
from application.common.ports.clock import Clock
from application.dashboard.read_dashboard import ReadDashboard, ReadDashboardCommand
from application.dashboard.views import DashboardSnapshot
from application.users.authenticate import Authenticate, AuthenticateCommand
from domain.audit.entry import AuditEntry
from entrypoints.http.realtime.audit_stream import EXPIRED, FORBIDDEN, entry_event
from entrypoints.http.realtime.hub import ConnectionHub, ServerFullError, TooManyConnectionsError
from entrypoints.http.realtime.stream import RETRY_MILLISECONDS, SESSION_ENDED
from entrypoints.http.schemas.dashboard import FIGURES_EVENT, DashboardFigures

RECENT_SECONDS = 5
"""The seconds each later event sends again, so a second reported late is corrected."""
REQUIRED = Permission.READ_AUDIT
"""What reading the dashboard takes: it shows the audit log, so whatever that takes."""
_ENDINGS = {
    SESSION_ENDED: "session ended",
    FORBIDDEN: f"{REQUIRED.value} is required",
}
_REFUSED: dict[type[Exception], str] = {
    ServerFullError: "live streams are at capacity; retry later",
    TooManyConnectionsError: "too many connections",
}
_encoder = msgspec.json.Encoder()
_database_outage = OutageLog(
    "database", what_waits="live dashboards show what Redis holds, without the audit log"
)
"""One per process, so an outage is logged once, not per stream and tick."""

Tick = tuple[DashboardSnapshot, Sequence[AuditEntry]]
"""What one tick sends: the figures, and the audit entries since the last one sent."""


@dataclass(slots=True, kw_only=True)
class DashboardFollower:
    """Where one stream stands, and how it reads on: the app's container and the caller's token."""

    container: AsyncContainer
    token: str = field(repr=False)
    last_seq: int
    tick_seconds: float

    async def poll(self) -> Tick | str:
        """The figures and the entries after the last one sent, or the event ending the stream.

        In a request scope of its own, returned to the pool before anything is sent.
        """
        async with self.container() as scope:
            try:
                authenticate = await scope.get(Authenticate)
                identity = await authenticate(AuthenticateCommand(token=self.token))
            except AuthenticationRequiredError:
                return SESSION_ENDED
            except DependencyUnavailableError as exc:
                _database_outage.down(exc)
            else:
                if not role_allows(identity.role, REQUIRED):
                    return FORBIDDEN
            read = await scope.get(ReadDashboard)
            snapshot = await read(ReadDashboardCommand(history_seconds=RECENT_SECONDS))
            feed = await scope.get(ReadAuditFeed)
            try:
                entries = await feed.after(self.last_seq, limit=MAX_PAGE)
            except DependencyUnavailableError as exc:
                _database_outage.down(exc)
                return snapshot, ()
            _database_outage.up()
            return snapshot, entries


def figures_event(snapshot: DashboardSnapshot) -> ServerSentEventMessage:
    """The figures as their event."""
    return ServerSentEventMessage(
        event=FIGURES_EVENT, data=_encoder.encode(DashboardFigures.of(snapshot)).decode()
    )


async def dashboard_events(
    hub: ConnectionHub,
    identity: Identity,
    first: Tick,
    follower: DashboardFollower,
    *,
    clock: Clock,
    max_live: int,
) -> AsyncIterator[ServerSentEventMessage]:
    """The stream: its place taken when it starts, the first tick, then one per interval.

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
        tick: Tick | str = first
        while isinstance(tick, tuple):
            snapshot, entries = tick
            yield figures_event(snapshot)
            for entry in entries:
                yield entry_event(entry)
                follower.last_seq = entry.seq
            wait = follower.tick_seconds
            if identity.expires_at is not None:
                left = (identity.expires_at - clock.now()).total_seconds()
                if left <= 0:
                    yield ServerSentEventMessage(event=EXPIRED, data="token expired")
                    return
                wait = min(wait, left)
            if await _stopped_within(hub, wait):
                return
            tick = await follower.poll()
        yield ServerSentEventMessage(event=tick, data=_ENDINGS[tick])


async def _stopped_within(hub: ConnectionHub, seconds: float) -> bool:
    """Wait `seconds`; True as soon as the process starts stopping."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(hub.stopping.wait(), timeout=seconds)
    return hub.stopping.is_set()
