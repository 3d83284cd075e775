"""The ASGI factory that server worker processes import (``entrypoints.http.asgi:build_app``)."""

import atexit
from collections.abc import Sequence
from contextlib import ExitStack

from litestar import Litestar
from litestar.types import ControllerRouterHandler

from entrypoints.bootstrap import resolved_database, setup_logging, with_signing_secret
from entrypoints.config import load_settings
from entrypoints.http.app import create_app
from entrypoints.ioc import make_container
from entrypoints.tracing import API_SERVICE, start_tracing_if_requested


def build_app(*, extra_handlers: Sequence[ControllerRouterHandler] = ()) -> Litestar:
    """Read settings from the environment and build the app, with `extra_handlers` mounted.

    `portico serve` resolves the database before it starts workers, so here DATABASE_URL
    is normally set; when another ASGI server calls this directly without one, the
    embedded database is started and held for the life of the process. Each server worker
    process traces on its own when OTEL_EXPORTER_OTLP_ENDPOINT asks for it.
    """
    settings = load_settings()
    start_tracing_if_requested(API_SERVICE)
    setup_logging(settings)
    settings = with_signing_secret(settings)
    setup_logging(settings)
    stack = ExitStack()
    settings = stack.enter_context(resolved_database(settings))
    atexit.register(stack.close)
    return create_app(make_container(settings), settings, extra_handlers=extra_handlers)
