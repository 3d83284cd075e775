"""Runs a request again, once, when its database connection died before anything committed."""

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from loguru import logger

from application.common.errors import ConnectionLostError

_REPEATABLE = "portico.repeatable_failure"


def note_repeatable(scope: Scope, error: ConnectionLostError) -> None:
    """Mark the request as failed by `error`, which nothing it did survives.

    Called by the error handler that answers it, before its 503 is sent.
    """
    scope.setdefault("state", {})[_REPEATABLE] = error


class RepeatOnLostConnectionMiddleware:
    """Swallows a 503 caused by `ConnectionLostError` and runs the request once more.

    Such a request committed nothing and its response had not started, so a second run,
    with a fresh request scope (new connection, unit of work and repositories, since the
    dependency container is opened inside this middleware), either succeeds or answers what
    it answers; a pooled connection that a restart killed then costs no request. The
    second run is never repeated, and any other answer passes through untouched. Litestar
    keeps the body it read in the scope, so the second run reads the same one.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request, and once more if its first run lost its connection."""
        if scope["type"] != ScopeType.HTTP:
            await self._app(scope, receive, send)
            return
        swallowed = False

        async def send_unless_repeatable(message: Message) -> None:
            nonlocal swallowed
            if message["type"] == "http.response.start":
                swallowed = scope.get("state", {}).pop(_REPEATABLE, None) is not None
            if not swallowed:
                await send(message)

        await self._app(scope, receive, send_unless_repeatable)
        if not swallowed:
            return
        logger.debug("the request's database connection was lost; running it once more")
        await self._app(scope, receive, self._forgetting_marks(scope, send))

    @staticmethod
    def _forgetting_marks(scope: Scope, send: Send) -> Send:
        async def forward(message: Message) -> None:
            if message["type"] == "http.response.start":
                scope.get("state", {}).pop(_REPEATABLE, None)
            await send(message)

        return forward
