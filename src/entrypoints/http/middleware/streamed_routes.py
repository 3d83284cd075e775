"""Which routes read their request body as a stream: uploads, under limits of their own."""

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from uuid import UUID

from litestar.routes import HTTPRoute
from litestar.routes.base import BaseRoute


class StreamedBodyRoutes:
    """The routes that read their body as a stream, under limits of their own.

    A route opts out of the generic body limit once, the way Litestar's own limit is lifted:
    its handler declares ``request_max_body_size=None``. Such a route (an upload, limited per
    purpose while it streams) must never have its body read whole, so the guard learns from
    here, before routing, which method and path it is: a pattern per route, built from the
    app's routes when the app is built. Every other route keeps the generic limit.
    """

    def __init__(self, routes: Iterable[BaseRoute]) -> None:
        self._routes: list[tuple[frozenset[str], frozenset[str], re.Pattern[str]]] = []
        for route in routes:
            if not isinstance(route, HTTPRoute):
                continue
            streamed = frozenset(
                method
                for handler in route.route_handlers
                if handler.resolve_request_max_body_size() is None
                for method in handler.http_methods
            )
            if streamed:
                self._routes.append((streamed, frozenset(route.methods), _path_pattern(route)))

    def streams(self, method: str, path: str) -> bool:
        """Whether the request reaches a route that reads its body as a stream.

        A method the path does not serve counts too: Litestar answers it 405 without
        reading the body, which is no reason to read or judge it first.
        """
        return any(
            (method in streamed or method not in served) and pattern.fullmatch(path)
            for streamed, served, pattern in self._routes
        )


_PARAMETER_TEXT: Mapping[type, str] = {
    Path: ".*",
    UUID: "[0-9A-Fa-f-]{32,36}",
    int: "-?[0-9]+",
}
"""What a path parameter of each type may look like; any other is one segment."""


def _path_pattern(route: HTTPRoute) -> re.Pattern[str]:
    """The paths Litestar routes to `route`, as closely as its parameters' types say."""
    parts = [
        re.escape(component)
        if isinstance(component, str)
        else _PARAMETER_TEXT.get(component.type, "[^/]+")
        for component in route.path_components
    ]
    return re.compile("/" + "/".join(parts) + "/?")
