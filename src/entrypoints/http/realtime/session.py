"""One authenticated socket at /ws: its send queue, heartbeat, and the client's messages.

The handshake (gateway.py) hands the socket over once it is authenticated and attached to
the hub; `GatewaySession.run` serves it until something ends it, and returns the close code.
"""

import asyncio
import contextlib
from typing import Any
from uuid import UUID

import msgspec
from dishka import AsyncContainer
from litestar import WebSocket
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
from domain.shared.errors import DomainError
from entrypoints.config.settings import WebSocketSettings
from entrypoints.http.client_input import MalformedInputError, NulCharacterError, decode_json
from entrypoints.http.realtime.hub import LiveConnection
from entrypoints.http.realtime.protocol import (
    GOING_AWAY,
    IDLE,
    MESSAGE,
    POLICY_VIOLATION,
    SESSION_ENDED,
    TRY_AGAIN_LATER,
    UNAUTHORIZED,
    Closing,
    authenticate_token,
    expiry,
    read_frame,
    still_live,
)
from entrypoints.http.schemas.notifications import Notification

_RATE_WINDOW_SECONDS = 60.0
_encoder = msgspec.json.Encoder()


def _encode(message: dict[str, Any]) -> bytes:
    return _encoder.encode(message)


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
                if isinstance(error, Closing):
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
        raise Closing(TRY_AGAIN_LATER, "send queue overflowed")

    async def _watch_shutdown(self) -> None:
        await self._connection.shutting_down.wait()
        raise Closing(GOING_AWAY, "server shutting down")

    async def _watch_session_end(self) -> None:
        await self._connection.ended.wait()
        raise Closing(UNAUTHORIZED, SESSION_ENDED)

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
                raise Closing(UNAUTHORIZED, "token expired")
            try:
                async with asyncio.timeout(max(wait, 0.0)):
                    raw = await read_frame(self._socket, self._settings.max_message_bytes)
            except TimeoutError:
                expires_at = self._identity.expires_at
                if expires_at is not None and expires_at <= self._clock.now():
                    raise Closing(UNAUTHORIZED, "token expired") from None
                if wait >= self._settings.idle_timeout_seconds:
                    raise Closing(IDLE, "idle timeout") from None
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
            raise Closing(POLICY_VIOLATION, "too many messages")
        if self._window_count > limit:
            self.reply(_error("rate_limit", "too many messages; slow down"), None)
            return True
        return False

    async def _handle(self, raw: str | bytes) -> None:
        try:
            message = decode_json(raw, part=MESSAGE)
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
                raise Closing(UNAUTHORIZED, f"token {exc.message}") from None
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
                    "notifications": [Notification.of(item) for item in page.items],
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
        identity = await authenticate_token(self._container, token)
        if identity.user_id != self._identity.user_id:
            raise Closing(UNAUTHORIZED, "token is for another user")
        if identity.session_id != self._connection.session_id:
            self._connection.session_id = identity.session_id
            identity = await still_live(self._container, token)
        self._identity = identity
        self.reply({"type": "auth_ok", "expiresAt": expiry(identity)}, request_id)


def _error(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"code": code, "message": message}}
