"""GET /api/notifications/stream: the live notifications as Server-Sent Events.

Each notification arrives as ``event: new_notification`` whose data is the same JSON the
WebSocket pushes. A comment line is sent every WS_HEARTBEAT_SECONDS so proxies keep the
stream open. The stream ends when the access token expires (reconnect with a fresh one),
or when the client falls so far behind that its queue overflows.
"""

import asyncio
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from litestar import Request, get
from litestar.response import ServerSentEvent, ServerSentEventMessage

from application.common.errors import TooManyRequestsError
from entrypoints.config.settings import WebSocketSettings
from entrypoints.http.auth import required_identity
from entrypoints.http.realtime.hub import ConnectionHub, LiveConnection, TooManyConnectionsError

NEW_NOTIFICATION = "new_notification"
RETRY_MILLISECONDS = 3_000


async def _next_message(connection: LiveConnection, wait: float) -> bytes | None:
    """The next queued message; None after `wait` seconds, or when the server shuts down."""
    getter = asyncio.ensure_future(connection.queue.get())
    stopper = asyncio.ensure_future(connection.shutting_down.wait())
    try:
        await asyncio.wait({getter, stopper}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        if not getter.done():
            getter.cancel()
    return getter.result() if getter.done() and not getter.cancelled() else None


async def _events(
    hub: ConnectionHub,
    connection: LiveConnection,
    settings: WebSocketSettings,
    expires_at: datetime | None,
) -> AsyncIterator[ServerSentEventMessage]:
    try:
        yield ServerSentEventMessage(comment="connected", retry=RETRY_MILLISECONDS)
        while not (connection.overflowed.is_set() or connection.shutting_down.is_set()):
            wait = settings.heartbeat_seconds
            if expires_at is not None:
                left = (expires_at - datetime.now(UTC)).total_seconds()
                if left <= 0:
                    yield ServerSentEventMessage(event="expired", data="token expired")
                    return
                wait = min(wait, left)
            payload = await _next_message(connection, wait)
            if payload is None:
                if not connection.shutting_down.is_set():
                    yield ServerSentEventMessage(comment="heartbeat")
                continue
            yield ServerSentEventMessage(event=NEW_NOTIFICATION, data=payload.decode())
    finally:
        await hub.detach(connection)


@get("/api/notifications/stream", summary="Live notifications (SSE)", tags=["notifications"])
async def notification_stream(request: Request[Any, Any, Any]) -> ServerSentEvent:
    """Stream the caller's new notifications until the token expires."""
    identity = required_identity(request)
    hub: ConnectionHub = request.app.state.realtime_hub
    settings: WebSocketSettings = request.app.state.websocket_settings
    try:
        connection = await hub.attach(identity.user_id)
    except TooManyConnectionsError:
        raise TooManyRequestsError(max(1, math.ceil(settings.heartbeat_seconds))) from None
    return ServerSentEvent(
        _events(hub, connection, settings, identity.expires_at),
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
