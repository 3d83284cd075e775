"""`Allow` on the answer to OPTIONS lists every method of the path, as the document does.

Litestar 2 answers OPTIONS itself, but builds that answer with the first handler
registered on a path and never updates it, so ``OPTIONS /api/articles`` said
``Allow: GET, OPTIONS`` with POST missing (litestar-org/litestar#4169, fixed only in
Litestar 3). The methods of each path are known once the app is built.
"""

from collections.abc import Iterable

from litestar.enums import ScopeType
from litestar.routes import HTTPRoute
from litestar.routes.base import BaseRoute
from litestar.types import ASGIApp, Message, Receive, Scope, Send

_ALLOW = b"allow"


class AllowedMethodsMiddleware:
    """Rewrites the `Allow` that Litestar's automatic OPTIONS handlers answer with.

    The handler that served the request is looked up by identity in a table built here
    from the app's routes, as `SecurityHeadersMiddleware` does; any other response, and
    any other method, passes untouched.
    """

    def __init__(self, app: ASGIApp, *, routes: Iterable[BaseRoute]) -> None:
        self._app = app
        self._allow_by_handler: dict[int, bytes] = {}
        for route in routes:
            if not isinstance(route, HTTPRoute):
                continue
            allow = ", ".join(sorted(route.methods)).encode()
            for handler in route.route_handlers:
                if handler.http_methods == {"OPTIONS"}:
                    self._allow_by_handler[id(handler)] = allow

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request; an OPTIONS answer gets the path's full `Allow`."""
        if scope["type"] != ScopeType.HTTP or scope["method"] != "OPTIONS":
            await self._app(scope, receive, send)
            return

        async def send_with_allow(message: Message) -> None:
            if message["type"] == "http.response.start":
                allow = self._allow_by_handler.get(id(scope.get("route_handler")))
                headers = message.get("headers", ())
                if allow is not None and any(k.lower() == _ALLOW for k, _ in headers):
                    kept = [(k, v) for k, v in headers if k.lower() != _ALLOW]
                    message["headers"] = [*kept, (_ALLOW, allow)]
            await send(message)

        await self._app(scope, receive, send_with_allow)
