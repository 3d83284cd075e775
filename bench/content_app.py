"""The Portico app with a bare hello endpoint beside it, for `bench/content.py`.

The hello handler runs in the same process, behind the same middleware, so the ratio of
an endpoint to hello measures what that endpoint costs beyond serving any request at all.
"""

from litestar import Litestar, get

from entrypoints.http.asgi import build_app as build_portico
from entrypoints.http.auth import PUBLIC

HELLO_PATH = "/bench/hello"


@get(HELLO_PATH, opt=PUBLIC, sync_to_thread=False, include_in_schema=False)
def hello() -> str:
    """The least a request can cost."""
    return "Hello, world!"


def build_app() -> Litestar:
    """Portico plus the hello endpoint (a granian factory)."""
    return build_portico(extra_handlers=[hello])
