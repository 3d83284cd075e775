"""Ending a session ends its live channels: a control message in the user's realtime room.

The message travels the same way notifications do (the `RealtimeBroadcaster`, so it
reaches every API process), and is encoded and read only here. Its payload starts with
`SESSIONS_ENDED_PREFIX`, which no notification does, so a receiver tells it apart with a
prefix check and never decodes a notification to do so.
"""

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from application.common.ports.realtime import RealtimeBroadcaster, RoomMessage, user_room
from application.common.ports.unit_of_work import UnitOfWork
from domain.users.values import UserId

_log = logging.getLogger(__name__)

SESSIONS_ENDED = "sessions_ended"
SESSIONS_ENDED_PREFIX = b'{"type":"' + SESSIONS_ENDED.encode() + b'"'
"""How every control payload begins, and no notification payload does."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionsEnded:
    """Which sessions of one user just ended.

    `sessions` names them; None means every session of the user except `keep` (None: all).
    """

    sessions: frozenset[UUID] | None = None
    keep: UUID | None = None

    def ends(self, session_id: UUID | None) -> bool:
        """Whether a channel opened by `session_id` belongs to an ended session."""
        if self.sessions is None:
            return session_id is None or session_id != self.keep
        return session_id is not None and session_id in self.sessions


def sessions_ended_message(user_id: UserId, ended: SessionsEnded) -> RoomMessage:
    """The control message telling every process to close the channels of `ended`."""
    body = {
        "type": SESSIONS_ENDED,
        "sessions": None if ended.sessions is None else sorted(map(str, ended.sessions)),
        "keep": None if ended.keep is None else str(ended.keep),
    }
    payload = json.dumps(body, separators=(",", ":")).encode()
    return RoomMessage(room=user_room(user_id), payload=payload)


def read_sessions_ended(payload: bytes) -> SessionsEnded | None:
    """The ended sessions if `payload` is a control message; None for anything else.

    A payload that claims to be a control message but cannot be read ends every session:
    only Portico publishes to these rooms, so it is a bug or a newer process's format,
    and a channel closed by mistake just reconnects, while one left open stays signed in.
    """
    if not payload.startswith(SESSIONS_ENDED_PREFIX):
        return None
    try:
        body = json.loads(payload)
        sessions = body["sessions"]
        keep = body["keep"]
        return SessionsEnded(
            sessions=None if sessions is None else frozenset(UUID(item) for item in sessions),
            keep=None if keep is None else UUID(keep),
        )
    except (ValueError, TypeError, KeyError):
        _log.warning("unreadable sessions_ended message; ending every session it reached")
        return SessionsEnded()


class LiveSessionCloser:
    """Closes the WebSockets and SSE streams of sessions that end, in every API process.

    Rules:
    - Nothing is published until the transaction that ends the sessions has committed, so
      a rollback leaves every channel open.
    - Delivery is a live signal, at most once. A failed publish is logged and the commit
      stands: the channel then lasts at most until its access token expires, since
      re-authenticating with a token of an ended session fails.
    """

    def __init__(self, broadcaster: RealtimeBroadcaster) -> None:
        self._broadcaster = broadcaster

    def end_after_commit(
        self,
        uow: UnitOfWork,
        user_id: UserId,
        *,
        sessions: Sequence[UUID] | None = None,
        keep: UUID | None = None,
    ) -> None:
        """Once `uow` commits, close the live channels of `sessions` of the user.

        `sessions=None` means every session of the user except `keep` (which applies only
        then); an empty sequence closes nothing.
        """
        if sessions is not None and not sessions:
            return
        ended = SessionsEnded(
            sessions=None if sessions is None else frozenset(sessions),
            keep=keep if sessions is None else None,
        )
        message = sessions_ended_message(user_id, ended)

        async def publish() -> None:
            try:
                await self._broadcaster.publish(message)
            except Exception:  # noqa: BLE001 - the sessions have ended; only the signal failed
                _log.exception(
                    "could not tell the API processes to close the live channels of ended "
                    "sessions of user %s; they close when their access tokens expire",
                    user_id,
                )

        uow.after_commit(publish)
