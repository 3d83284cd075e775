"""The WebSocket gateway at /ws: authenticate first, then live notifications both ways.

Protocol (JSON text frames; docs/notifications.md has examples):

- The socket opens as ``/ws?ticket=...`` with a single-use ticket from
  POST /api/notifications/live-ticket (tickets.py), authenticated at once. Where
  WS_MAX_UNAUTHENTICATED is above 0 (it is 0 by default), a socket may instead send
  ``{"type": "auth", "token": "<access jwt>"}`` as its first message, within
  WS_AUTH_TIMEOUT_SECONDS, or be closed with 4401. The server answers
  ``{"type": "auth_ok", "expiresAt": ...}``.
- By default a socket without a ticket is refused in the handshake (HTTP 403, no upgrade),
  so nothing is read from it: granian reads a whole frame, up to 16 MiB, whenever the app
  asks for the next message. So is one with an unknown, used or expired ticket. With a
  waiting room, a socket without a ticket holds a place until it authenticates, of which
  one client address has only a share (admission.py); one refused, or one past
  WS_MAX_LIVE_CONNECTIONS, is refused in the handshake too.
- Then the client may send ``ping``, ``get_notifications`` (``limit``, ``offset``,
  ``unread``), ``mark_read`` (``ids``) and ``auth`` again (a fresh token before the old
  one expires). Any message may carry an ``id``, echoed in its answer.
- The server pushes ``{"type": "new_notification", "data": {...}}`` and a ``heartbeat``
  every WS_HEARTBEAT_SECONDS.

Close codes: 4401 not authenticated or token expired, or, with
the reason ``session ended``, the session that opened the socket ended (logout,
logout-all, the session revoked, a ban, a password change or reset), within a second and
whichever API process holds the socket; 4408 nothing received for WS_IDLE_TIMEOUT_SECONDS;
4429 too many connections for the user; 1009 message too large; 1013 the client fell too
far behind (its send queue overflowed), or the process filled up while it authenticated;
1001 the server is shutting down, where the server lets the app say so. uvicorn closes live
sockets with 1012 before the app hears of the shutdown, and granian drops them without a
close frame (1006); either way the client reconnects. After 4401 the client needs a fresh
token (or to sign in again, or a new ticket) first.

This module is the handshake (admission, tickets, the first auth message) and the
endpoint; session.py serves a socket once it is authenticated; protocol.py holds the close
codes, frame reading and token checks both use; admission.py and tickets.py keep the
waiting room and the tickets.
"""

import asyncio
import contextlib
from typing import Any

from dishka import AsyncContainer
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect

from application.common.errors import AuthenticationRequiredError
from application.common.identity import Identity
from application.common.ports.clock import Clock
from entrypoints.config.settings import WebSocketSettings
from entrypoints.http.auth import PUBLIC
from entrypoints.http.client_input import MalformedInputError, NulCharacterError, decode_json
from entrypoints.http.rate_limits import EdgeRateLimits
from entrypoints.http.realtime.admission import AdmissionRefusedError
from entrypoints.http.realtime.hub import (
    ConnectionHub,
    LiveConnection,
    RealtimeUnavailableError,
    ServerFullError,
    TooManyConnectionsError,
)
from entrypoints.http.realtime.protocol import (
    MESSAGE,
    TOO_MANY_CONNECTIONS,
    TRY_AGAIN_LATER,
    UNAUTHORIZED,
    Closing,
    authenticate_token,
    expiry,
    read_frame,
    still_live,
)
from entrypoints.http.realtime.session import GatewaySession
from entrypoints.http.realtime.tickets import LiveTickets, TicketUnavailableError

TICKET_REQUIRED = "a ticket is required"
"""Why a socket without a ticket is refused when WS_MAX_UNAUTHENTICATED is 0."""
TICKET_INVALID = "ticket is invalid"
"""Why a socket whose ticket is unknown, used or expired is refused."""
SERVER_FULL = "server at capacity"
"""The reason sent with 1013 when the process filled up while the socket authenticated."""


class _Refused(Exception):  # noqa: N818 - a control-flow signal: deny the handshake
    """The socket is refused before it is upgraded: the client gets HTTP 403, no socket.

    Refusing in the handshake costs the server no upgrade, no frame and no close: a client
    that reopens refused sockets in a loop (`make attack`, ws-unauth) took 605 MB and 116%
    of a core when each was accepted and closed with 1013, and 85 MB and 10% this way.
    """


async def _first_message_identity(
    socket: WebSocket[Any, Any, Any], settings: WebSocketSettings
) -> tuple[Identity, str, object]:
    """The identity the auth message proves, its token, and the message's `id`."""
    try:
        async with asyncio.timeout(settings.auth_timeout_seconds):
            raw = await read_frame(socket, settings.max_message_bytes)
    except TimeoutError:
        raise Closing(UNAUTHORIZED, "authenticate within the time allowed") from None
    try:
        message = decode_json(raw, part=MESSAGE)
    except (MalformedInputError, NulCharacterError):
        raise Closing(UNAUTHORIZED, "the first message must be auth") from None
    if not isinstance(message, dict) or message.get("type") != "auth":
        raise Closing(UNAUTHORIZED, "the first message must be auth")
    token = message.get("token")
    try:
        identity = await authenticate_token(socket.state.dishka_container, token)
    except AuthenticationRequiredError as exc:
        raise Closing(UNAUTHORIZED, f"token {exc.message}") from None
    assert isinstance(token, str)  # noqa: S101 - authenticate_token accepts nothing else
    return identity, token, message.get("id")


async def _ticket_identity(socket: WebSocket[Any, Any, Any], ticket: str) -> tuple[Identity, str]:
    """The identity behind a handshake ticket (tickets.py), and the token it stands for."""
    container: AsyncContainer = socket.state.dishka_container
    tickets = await container.get(LiveTickets)
    try:
        token = await tickets.redeem(ticket)
    except TicketUnavailableError:
        raise Closing(TRY_AGAIN_LATER, "tickets are unavailable; retry later") from None
    if token is None:
        raise _Refused(TICKET_INVALID)
    try:
        identity = await authenticate_token(container, token)
    except AuthenticationRequiredError as exc:
        raise Closing(UNAUTHORIZED, f"token {exc.message}") from None
    return identity, token


async def _admit(
    socket: WebSocket[Any, Any, Any],
    hub: ConnectionHub,
    settings: WebSocketSettings,
    ticket: str | None,
) -> contextlib.AbstractContextManager[Any]:
    """The socket's place in the waiting room, none with a ticket; _Refused when there is none.

    The refusal comes before anything is read from the socket: granian reads a whole frame
    (up to 16 MiB) when the app asks for the next message, whatever WS_MAX_MESSAGE_BYTES.
    """
    if hub.live >= settings.max_live_connections:
        raise _Refused(SERVER_FULL)
    if ticket is not None:
        return contextlib.nullcontext()
    if settings.max_unauthenticated == 0:
        raise _Refused(TICKET_REQUIRED)
    limits = await socket.state.dishka_container.get(EdgeRateLimits)
    try:
        return hub.waiting.admit(
            limits.client_address.resolve(socket),
            max_total=settings.max_unauthenticated,
            max_per_client=settings.max_unauthenticated_per_client,
        )
    except AdmissionRefusedError as refused:
        raise _Refused(refused.reason) from None


async def _attach(
    hub: ConnectionHub, identity: Identity, settings: WebSocketSettings
) -> LiveConnection:
    try:
        return await hub.attach(
            identity.user_id,
            session_id=identity.session_id,
            max_live=settings.max_live_connections,
        )
    except ServerFullError:
        raise Closing(TRY_AGAIN_LATER, SERVER_FULL) from None
    except TooManyConnectionsError:
        raise Closing(TOO_MANY_CONNECTIONS, "too many connections") from None
    except RealtimeUnavailableError:
        raise Closing(TRY_AGAIN_LATER, "live notifications are unavailable") from None


@websocket("/ws", opt=PUBLIC, include_in_schema=False)
async def gateway(socket: WebSocket[Any, Any, Any]) -> None:
    """Authenticate by ticket or first message, then serve the session until it ends.

    A ticket is redeemed before the socket is accepted. Without one, a socket waits for its
    auth message in the waiting room (admission.py), whose share per client address keeps
    one client from filling it. A socket with a bad ticket, without one when there is no
    room (the default), past the room's limits, or past WS_MAX_LIVE_CONNECTIONS, is refused
    in the handshake (`_Refused`): a client that reopens such sockets in a loop costs no
    upgrade, frame or close.
    """
    hub: ConnectionHub = socket.app.state.realtime_hub
    settings: WebSocketSettings = socket.app.state.websocket_settings
    ticket = socket.query_params.get("ticket")
    try:
        place = await _admit(socket, hub, settings, ticket)
        by_ticket = None if ticket is None else await _ticket_identity(socket, ticket)
    except _Refused:
        with contextlib.suppress(Exception):
            await socket.close()
        return
    except Closing as refused:
        with contextlib.suppress(Exception):
            await socket.accept()
            await socket.close(code=refused.code, reason=refused.reason)
        return
    connection: LiveConnection | None = None
    try:
        with place:
            await socket.accept()
            if by_ticket is None:
                identity, token, request_id = await _first_message_identity(socket, settings)
            else:
                (identity, token), request_id = by_ticket, None
        connection = await _attach(hub, identity, settings)
        identity = await still_live(socket.state.dishka_container, token)
        clock = await socket.state.dishka_container.get(Clock)
        session = GatewaySession(socket, connection, identity, settings, clock)
        session.reply({"type": "auth_ok", "expiresAt": expiry(identity)}, request_id)
        code, reason = await session.run()
    except Closing as closing:
        code, reason = closing.code, closing.reason
    except WebSocketDisconnect:
        return
    finally:
        if connection is not None:
            hub.detach(connection)
    with contextlib.suppress(Exception):
        await socket.close(code=code, reason=reason)
