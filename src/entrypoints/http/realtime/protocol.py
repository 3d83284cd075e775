"""What the /ws handshake and session share: close codes, frames read, and token checks.

The close codes are the protocol's (gateway.py documents when each is sent); `Closing`
carries one out of whichever task decides the socket ends.
"""

from datetime import UTC
from typing import Any

from dishka import AsyncContainer
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect

from application.common.errors import AuthenticationRequiredError
from application.common.identity import Identity
from application.users.authenticate import Authenticate, AuthenticateCommand

UNAUTHORIZED = 4401
SESSION_ENDED = "session ended"
"""The reason sent with 4401 when the socket's session ends; clients sign in again."""
IDLE = 4408
TOO_MANY_CONNECTIONS = 4429
MESSAGE_TOO_BIG = 1009
TRY_AGAIN_LATER = 1013
POLICY_VIOLATION = 1008
GOING_AWAY = 1001

MESSAGE = "message"
"""The part of the request a client message is, for `decode_json`'s errors."""


class Closing(Exception):  # noqa: N818 - a control-flow signal carrying the close code
    """End the socket with `code` and `reason`."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


async def read_frame(socket: WebSocket[Any, Any, Any], max_bytes: int) -> str | bytes:
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
            raise Closing(MESSAGE_TOO_BIG, "message too large")
        return text
    data = event.get("bytes")
    if not isinstance(data, bytes):
        return ""
    if len(data) > max_bytes:
        raise Closing(MESSAGE_TOO_BIG, "message too large")
    return data


async def authenticate_token(container: AsyncContainer, token: object) -> Identity:
    """The identity an access token proves; AuthenticationRequiredError when it proves none."""
    if not isinstance(token, str) or not token:
        raise AuthenticationRequiredError("is missing")
    async with container() as request:
        authenticate = await request.get(Authenticate)
        return await authenticate(AuthenticateCommand(token=token))


async def still_live(container: AsyncContainer, token: object) -> Identity:
    """Authenticate again, now that the connection listens for its session's end.

    A session that ended between the first check and that moment sent its signal before
    the connection could hear it; one that ends later is heard. Checking again closes
    that gap.
    """
    try:
        return await authenticate_token(container, token)
    except AuthenticationRequiredError:
        raise Closing(UNAUTHORIZED, SESSION_ENDED) from None


def expiry(identity: Identity) -> str | None:
    """When the identity's token expires, as the ``expiresAt`` of ``auth_ok``."""
    if identity.expires_at is None:
        return None
    return identity.expires_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
