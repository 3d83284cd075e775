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

The whole protocol is this one module, the way a reader follows it; admission and
tickets are already apart (admission.py, tickets.py), and the handshake is the next piece
to move out when the module grows again (it is past 500 lines).
"""

import asyncio
import contextlib
from datetime import UTC
from typing import Any
from uuid import UUID

import msgspec
from dishka import AsyncContainer
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect
from loguru import logger

from application.articles.pagination import PageRequest
from application.common.errors import ApplicationError, AuthenticationRequiredError
from application.common.identity import Identity
from application.common.ports.clock import Clock
from application.notifications.count_unread_notifications import CountUnreadNotifications
from application.notifications.list_notifications import (
    ListNotifications,
    ListNotificationsCommand,
)
from application.notifications.mark_notifications_read import (
    MarkNotificationsRead,
    MarkNotificationsReadCommand,
)
from application.notifications.views import notification_document
from application.users.authenticate import Authenticate, AuthenticateCommand
from domain.shared.errors import DomainError
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
from entrypoints.http.realtime.tickets import LiveTickets, TicketUnavailableError

UNAUTHORIZED = 4401
SESSION_ENDED = "session ended"
"""The reason sent with 4401 when the socket's session ends; clients sign in again."""
IDLE = 4408
TOO_MANY_CONNECTIONS = 4429
MESSAGE_TOO_BIG = 1009
TRY_AGAIN_LATER = 1013
POLICY_VIOLATION = 1008
GOING_AWAY = 1001
TICKET_REQUIRED = "a ticket is required"
"""Why a socket without a ticket is refused when WS_MAX_UNAUTHENTICATED is 0."""
TICKET_INVALID = "ticket is invalid"
"""Why a socket whose ticket is unknown, used or expired is refused."""
SERVER_FULL = "server at capacity"
"""The reason sent with 1013 when the process filled up while the socket authenticated."""

_RATE_WINDOW_SECONDS = 60.0
_encoder = msgspec.json.Encoder()
_MESSAGE = "message"


class _Refused(Exception):  # noqa: N818 - a control-flow signal: deny the handshake
    """The socket is refused before it is upgraded: the client gets HTTP 403, no socket.

    Refusing in the handshake costs the server no upgrade, no frame and no close: a client
    that reopens refused sockets in a loop (`make attack`, ws-unauth) took 605 MB and 116%
    of a core when each was accepted and closed with 1013, and 85 MB and 10% this way.
    """


class _Closing(Exception):  # noqa: N818 - a control-flow signal carrying the close code
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _encode(message: dict[str, Any]) -> bytes:
    return _encoder.encode(message)


async def _read_frame(socket: WebSocket[Any, Any, Any], max_bytes: int) -> str | bytes:
    """The next message, text or binary frame alike, after its size is checked.

    Read from the ASGI events directly: Litestar's text mode turns a binary frame into an
    empty string, which would let any size through unchecked. A binary frame is handed on
    as bytes, for `decode_json` to refuse if it is not UTF-8.
    """
    event = await socket.receive()
    if event["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(detail="disconnected", code=int(event.get("code", 1000)))
    text = event.get("text")
    if isinstance(text, str):
        if len(text) > max_bytes or len(text.encode()) > max_bytes:
            raise _Closing(MESSAGE_TOO_BIG, "message too large")
        return text
    data = event.get("bytes")
    if not isinstance(data, bytes):
        return ""
    if len(data) > max_bytes:
        raise _Closing(MESSAGE_TOO_BIG, "message too large")
    return data


async def _authenticate(container: AsyncContainer, token: object) -> Identity:
    if not isinstance(token, str) or not token:
        raise AuthenticationRequiredError("is missing")
    async with container() as request:
        authenticate = await request.get(Authenticate)
        return await authenticate(AuthenticateCommand(token=token))


async def _still_live(container: AsyncContainer, token: object) -> Identity:
    """Authenticate again, now that the connection listens for its session's end.

    A session that ended between the first check and that moment sent its signal before
    the connection could hear it; one that ends later is heard. Checking again closes
    that gap.
    """
    try:
        return await _authenticate(container, token)
    except AuthenticationRequiredError:
        raise _Closing(UNAUTHORIZED, SESSION_ENDED) from None


def _expiry(identity: Identity) -> str | None:
    if identity.expires_at is None:
        return None
    return identity.expires_at.astimezone(UTC).isoformat().replace("+00:00", "Z")


class GatewaySession:
    """One authenticated socket: reads client messages, writes from its bounded queue."""

    def __init__(
        self,
        socket: WebSocket[Any, Any, Any],
        connection: LiveConnection,
        identity: Identity,
        settings: WebSocketSettings,
        clock: Clock,
    ) -> None:
        self._socket = socket
        self._clock = clock
        self._connection = connection
        self._identity = identity
        self._settings = settings
        # Where dishka keeps it: tests/unit/test_reliances_http_stack.py
        self._container: AsyncContainer = socket.state.dishka_container
        self._window_started = 0.0
        self._window_count = 0

    async def run(self) -> tuple[int, str]:
        """Serve until something ends the session; the close code and reason."""
        tasks = [
            asyncio.create_task(self._receive()),
            asyncio.create_task(self._send()),
            asyncio.create_task(self._heartbeat()),
            asyncio.create_task(self._watch_overflow()),
            asyncio.create_task(self._watch_shutdown()),
            asyncio.create_task(self._watch_session_end()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                error = task.exception()
                if isinstance(error, _Closing):
                    return error.code, error.reason
                if isinstance(error, WebSocketDisconnect):
                    return 1000, "disconnected"
                if error is not None:
                    logger.opt(exception=error).error("websocket session failed")
                    return 1011, "internal error"
            return 1000, "closed"
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def reply(self, message: dict[str, Any], request_id: object) -> None:
        """Queue an answer behind what is already queued, echoing the client's `id`."""
        if request_id is not None:
            message["id"] = request_id
        self._connection.offer(_encode(message).decode())

    async def _send(self) -> None:
        queue = self._connection.queue
        while True:
            await self._socket.send_data(await queue.get(), mode="text")

    async def _heartbeat(self) -> None:
        beat = _encode({"type": "heartbeat"}).decode()
        while True:
            await asyncio.sleep(self._settings.heartbeat_seconds)
            self._connection.offer(beat)

    async def _watch_overflow(self) -> None:
        await self._connection.overflowed.wait()
        logger.info(
            "dropping a websocket of user {}: it stopped reading and its send queue of {} "
            "overflowed",
            self._identity.user_id,
            self._settings.send_queue_size,
        )
        raise _Closing(TRY_AGAIN_LATER, "send queue overflowed")

    async def _watch_shutdown(self) -> None:
        await self._connection.shutting_down.wait()
        raise _Closing(GOING_AWAY, "server shutting down")

    async def _watch_session_end(self) -> None:
        await self._connection.ended.wait()
        raise _Closing(UNAUTHORIZED, SESSION_ENDED)

    def _seconds_left(self) -> float:
        if self._identity.expires_at is None:
            return self._settings.idle_timeout_seconds
        left = (self._identity.expires_at - self._clock.now()).total_seconds()
        return min(left, self._settings.idle_timeout_seconds)

    async def _receive(self) -> None:
        while True:
            wait = self._seconds_left()
            if (
                wait <= 0
                and self._identity.expires_at is not None
                and (self._identity.expires_at <= self._clock.now())
            ):
                raise _Closing(UNAUTHORIZED, "token expired")
            try:
                async with asyncio.timeout(max(wait, 0.0)):
                    raw = await _read_frame(self._socket, self._settings.max_message_bytes)
            except TimeoutError:
                expires_at = self._identity.expires_at
                if expires_at is not None and expires_at <= self._clock.now():
                    raise _Closing(UNAUTHORIZED, "token expired") from None
                if wait >= self._settings.idle_timeout_seconds:
                    raise _Closing(IDLE, "idle timeout") from None
                continue
            if self._over_rate_limit():
                continue
            await self._handle(raw)

    def _over_rate_limit(self) -> bool:
        """Count the message in this minute; True (and answered) when it is over the limit."""
        now = asyncio.get_running_loop().time()
        if now - self._window_started >= _RATE_WINDOW_SECONDS:
            self._window_started, self._window_count = now, 0
        self._window_count += 1
        limit = self._settings.messages_per_minute
        if self._window_count > 2 * limit:
            raise _Closing(POLICY_VIOLATION, "too many messages")
        if self._window_count > limit:
            self.reply(_error("rate_limit", "too many messages; slow down"), None)
            return True
        return False

    async def _handle(self, raw: str | bytes) -> None:
        try:
            message = decode_json(raw, part=_MESSAGE)
        except MalformedInputError as exc:
            self.reply(_error("bad_request", f"{exc.key} {exc.message}"), None)
            return
        except NulCharacterError as exc:
            self.reply(_error(exc.field, exc.message), None)
            return
        if not isinstance(message, dict):
            self.reply(_error("bad_request", "expected a JSON object"), None)
            return
        request_id = message.get("id")
        kind = message.get("type")
        try:
            if kind == "ping":
                self.reply({"type": "pong"}, request_id)
            elif kind == "get_notifications":
                await self._get_notifications(message, request_id)
            elif kind == "mark_read":
                await self._mark_read(message, request_id)
            elif kind == "auth":
                await self._reauthenticate(message, request_id)
            else:
                self.reply(_error("unknown_type", f"unknown message type {kind!r}"), request_id)
        except (ApplicationError, DomainError) as exc:
            if isinstance(exc, AuthenticationRequiredError):
                raise _Closing(UNAUTHORIZED, f"token {exc.message}") from None
            self.reply(_error(exc.field, exc.message), request_id)

    async def _get_notifications(self, message: dict[str, Any], request_id: object) -> None:
        limit, offset, unread = message.get("limit"), message.get("offset"), message.get("unread")
        for name, value in (("limit", limit), ("offset", offset)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise DomainError("must be an integer", field=name)
        if unread is not None and not isinstance(unread, bool):
            raise DomainError("must be true or false", field="unread")
        async with self._container() as request:
            list_notifications = await request.get(ListNotifications)
            page = await list_notifications(
                ListNotificationsCommand(
                    recipient=self._identity.user_id,
                    page=PageRequest.of(limit=limit, offset=offset),
                    unread_only=bool(unread),
                )
            )
        self.reply(
            {
                "type": "notifications",
                "data": {
                    "notifications": [notification_document(item) for item in page.items],
                    "notificationsCount": page.total,
                },
            },
            request_id,
        )

    async def _mark_read(self, message: dict[str, Any], request_id: object) -> None:
        raw_ids = message.get("ids")
        if not isinstance(raw_ids, list) or not all(isinstance(item, str) for item in raw_ids):
            raise DomainError("must be a list of notification ids", field="ids")
        ids = []
        for raw in raw_ids:
            with contextlib.suppress(ValueError):
                ids.append(UUID(raw))
        async with self._container() as request:
            mark_read = await request.get(MarkNotificationsRead)
            marked = await mark_read(
                MarkNotificationsReadCommand(recipient=self._identity.user_id, notification_ids=ids)
            )
            count_unread = await request.get(CountUnreadNotifications)
            unread = await count_unread(self._identity.user_id)
        self.reply(
            {
                "type": "marked_read",
                "data": {"ids": [str(item.id) for item in marked], "unreadCount": unread},
            },
            request_id,
        )

    async def _reauthenticate(self, message: dict[str, Any], request_id: object) -> None:
        token = message.get("token")
        identity = await _authenticate(self._container, token)
        if identity.user_id != self._identity.user_id:
            raise _Closing(UNAUTHORIZED, "token is for another user")
        if identity.session_id != self._connection.session_id:
            self._connection.session_id = identity.session_id
            identity = await _still_live(self._container, token)
        self._identity = identity
        self.reply({"type": "auth_ok", "expiresAt": _expiry(identity)}, request_id)


def _error(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"code": code, "message": message}}


async def _first_message_identity(
    socket: WebSocket[Any, Any, Any], settings: WebSocketSettings
) -> tuple[Identity, str, object]:
    """The identity the auth message proves, its token, and the message's `id`."""
    try:
        async with asyncio.timeout(settings.auth_timeout_seconds):
            raw = await _read_frame(socket, settings.max_message_bytes)
    except TimeoutError:
        raise _Closing(UNAUTHORIZED, "authenticate within the time allowed") from None
    try:
        message = decode_json(raw, part=_MESSAGE)
    except (MalformedInputError, NulCharacterError):
        raise _Closing(UNAUTHORIZED, "the first message must be auth") from None
    if not isinstance(message, dict) or message.get("type") != "auth":
        raise _Closing(UNAUTHORIZED, "the first message must be auth")
    token = message.get("token")
    try:
        identity = await _authenticate(socket.state.dishka_container, token)
    except AuthenticationRequiredError as exc:
        raise _Closing(UNAUTHORIZED, f"token {exc.message}") from None
    assert isinstance(token, str)  # noqa: S101 - _authenticate accepts nothing else
    return identity, token, message.get("id")


async def _ticket_identity(socket: WebSocket[Any, Any, Any], ticket: str) -> tuple[Identity, str]:
    """The identity behind a handshake ticket (tickets.py), and the token it stands for."""
    container: AsyncContainer = socket.state.dishka_container
    tickets = await container.get(LiveTickets)
    try:
        token = await tickets.redeem(ticket)
    except TicketUnavailableError:
        raise _Closing(TRY_AGAIN_LATER, "tickets are unavailable; retry later") from None
    if token is None:
        raise _Refused(TICKET_INVALID)
    try:
        identity = await _authenticate(container, token)
    except AuthenticationRequiredError as exc:
        raise _Closing(UNAUTHORIZED, f"token {exc.message}") from None
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
        raise _Closing(TRY_AGAIN_LATER, SERVER_FULL) from None
    except TooManyConnectionsError:
        raise _Closing(TOO_MANY_CONNECTIONS, "too many connections") from None
    except RealtimeUnavailableError:
        raise _Closing(TRY_AGAIN_LATER, "live notifications are unavailable") from None


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
    except _Closing as refused:
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
        identity = await _still_live(socket.state.dishka_container, token)
        clock = await socket.state.dishka_container.get(Clock)
        session = GatewaySession(socket, connection, identity, settings, clock)
        session.reply({"type": "auth_ok", "expiresAt": _expiry(identity)}, request_id)
        code, reason = await session.run()
    except _Closing as closing:
        code, reason = closing.code, closing.reason
    except WebSocketDisconnect:
        return
    finally:
        if connection is not None:
            hub.detach(connection)
    with contextlib.suppress(Exception):
        await socket.close(code=code, reason=reason)
