"""ASGI scopes for driving a middleware directly, without a server."""

from typing import cast

from litestar.types import Scope


def partial_scope(**keys: object) -> Scope:
    """A scope holding only the keys the code under test reads.

    A server's scope holds many more (`app`, `asgi`, `route_handler`, ...), all required by
    Litestar's `TypedDict`s; a test that names only what matters casts the rest away here, once.
    """
    return cast("Scope", keys)
