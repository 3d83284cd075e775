"""GET /api/notifications/stream: the live notifications as Server-Sent Events.

Each notification arrives as ``event: new_notification`` whose data is the same JSON the
WebSocket pushes. A comment line is sent every WS_HEARTBEAT_SECONDS so proxies keep the
stream open. The stream ends when the access token expires (``event: expired``; reconnect
with a fresh one), when the session that opened it ends (``event: session_ended``, within a
second, on logout, logout-all, the session revoked, a ban, a password change or reset: sign
in again), or when the client falls so far behind that its queue overflows.

A process serves at most WS_MAX_LIVE_CONNECTIONS streams and sockets together; past that a
stream is refused with 503 and Retry-After, before it starts. A client that goes away frees
its place at once: the response notices the disconnect and ends the stream.
"""

import asyncio
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from litestar import Request, get
from litestar.response import ServerSentEvent, ServerSentEventMessage

from application.common.errors import (
    AuthenticationRequiredError,
    DependencyUnavailableError,
    TooManyRequestsError,
)
from application.common.identity import Identity
from application.common.ports.clock import Clock
from application.common.ports.metrics import LiveChannel
from application.users.authenticate import Authenticate, AuthenticateCommand
from entrypoints.config.settings import WebSocketSettings
from entrypoints.http.auth import required_identity
from entrypoints.http.openapi import error_responses
from entrypoints.http.realtime.hub import (
    ConnectionHub,
    LiveConnection,
    RealtimeUnavailableError,
    ServerFullError,
    TooManyConnectionsError,
)
from entrypoints.http.schemas.notifications import NEW_NOTIFICATION

RETRY_MILLISECONDS = 3_000
FULL_RETRY_AFTER_SECONDS = 5
"""Retry-After of the 503 that refuses a stream past WS_MAX_LIVE_CONNECTIONS."""
SESSION_ENDED = "session_ended"
"""The event that ends the stream when its session ends."""


async def _next_message(connection: LiveConnection, wait: float) -> str | None:
    """The next queued message; None after `wait` seconds, or when the stream must stop."""
    getter = asyncio.ensure_future(connection.queue.get())
    stoppers = {
        asyncio.ensure_future(connection.shutting_down.wait()),
        asyncio.ensure_future(connection.ended.wait()),
    }
    try:
        await asyncio.wait({getter, *stoppers}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for stopper in stoppers:
            stopper.cancel()
        if not getter.done():
            getter.cancel()
    return getter.result() if getter.done() and not getter.cancelled() else None


async def _events(
    hub: ConnectionHub,
    identity: Identity,
    still_live: Callable[[], Awaitable[bool]],
    settings: WebSocketSettings,
    clock: Clock,
) -> AsyncIterator[ServerSentEventMessage]:
    """Attach when the stream starts, so a client gone before then leaves nothing behind.

    Once attached, the session is checked again: one that ended before the connection
    could hear of it would otherwise keep the stream open.

    Detaching is immediate bookkeeping with no await, so the cancellation that ends the
    stream when the client disconnects cannot interrupt it.
    """
    try:
        connection = await hub.attach(
            identity.user_id,
            session_id=identity.session_id,
            max_live=settings.max_live_connections,
            channel=LiveChannel.SSE,
        )
    except (ServerFullError, TooManyConnectionsError, RealtimeUnavailableError) as exc:
        yield ServerSentEventMessage(event="error", data=_REFUSED[type(exc)])
        return
    expires_at = identity.expires_at
    try:
        if not await still_live():
            connection.ended.set()
        else:
            yield ServerSentEventMessage(comment="connected", retry=RETRY_MILLISECONDS)
        while not (connection.overflowed.is_set() or connection.shutting_down.is_set()):
            if connection.ended.is_set():
                yield ServerSentEventMessage(event=SESSION_ENDED, data="session ended")
                return
            wait = settings.heartbeat_seconds
            if expires_at is not None:
                left = (expires_at - clock.now()).total_seconds()
                if left <= 0:
                    yield ServerSentEventMessage(event="expired", data="token expired")
                    return
                wait = min(wait, left)
            message = await _next_message(connection, wait)
            if message is None:
                if not (connection.shutting_down.is_set() or connection.ended.is_set()):
                    yield ServerSentEventMessage(comment="heartbeat")
                continue
            yield ServerSentEventMessage(event=NEW_NOTIFICATION, data=message)
    finally:
        hub.detach(connection)


_REFUSED: dict[type[Exception], str] = {
    ServerFullError: "live notifications are at capacity; retry later",
    TooManyConnectionsError: "too many connections",
    RealtimeUnavailableError: "live notifications are unavailable; retry later",
}


@get(
    "/api/notifications/stream",
    media_type="text/event-stream",
    summary="Live notifications (SSE)",
    tags=["notifications"],
    responses=error_responses(
        too_many_requests="The caller has as many live connections as WS_MAX_CONNECTIONS_PER_USER.",
        unavailable="The process serves as many live connections as WS_MAX_LIVE_CONNECTIONS.",
    ),
)
async def notification_stream(request: Request[Any, Any, Any]) -> ServerSentEvent:
    """Stream the caller's new notifications until the token expires or the session ends."""
    identity = required_identity(request)
    hub: ConnectionHub = request.app.state.realtime_hub
    settings: WebSocketSettings = request.app.state.websocket_settings
    # Where dishka keeps it: tests/unit/test_reliances_http_stack.py
    container = request.state.dishka_container
    clock = await container.get(Clock)
    authenticate = await container.get(Authenticate)
    # The guard accepted this header as "<scheme> <token>": entrypoints/http/auth.py
    token = request.headers.get("authorization", "").strip().partition(" ")[2].strip()

    async def still_live() -> bool:
        try:
            await authenticate(AuthenticateCommand(token=token))
        except AuthenticationRequiredError:
            return False
        return True

    if hub.live >= settings.max_live_connections:
        raise DependencyUnavailableError(
            "live notifications are at capacity; retry later",
            field="stream",
            retry_after_seconds=FULL_RETRY_AFTER_SECONDS,
        )
    if not hub.has_room_for(identity.user_id):
        raise TooManyRequestsError(max(1, math.ceil(settings.heartbeat_seconds)))
    return ServerSentEvent(
        _events(hub, identity, still_live, settings, clock),
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
