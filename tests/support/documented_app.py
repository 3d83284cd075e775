"""The app as its OpenAPI document sees it: built, never started, no server behind it."""

from litestar import Litestar

from entrypoints.config import load_settings
from entrypoints.http.app import create_app
from entrypoints.ioc import make_container

UNUSED_DATABASE = "postgresql://unused@127.0.0.1:1/unused"


def documented_app() -> Litestar:
    """The production app with test settings; nothing connects until a request needs it.

    Every optional route is mounted: `GET /metrics` exists only with METRICS_MODE=token.
    """
    settings = load_settings(
        {
            "APP_ENV": "test",
            "DATABASE_URL": UNUSED_DATABASE,
            "METRICS_MODE": "token",
            "METRICS_TOKEN": "t" * 32,
        },
        env_file=None,
    )
    return create_app(make_container(settings), settings)
