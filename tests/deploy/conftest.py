"""Fixtures the deploy tests share: Portico's own side of what the deployment files name."""

import pytest
from litestar import Litestar

from entrypoints.config import load_settings
from entrypoints.http.app import create_app
from entrypoints.ioc import make_container


@pytest.fixture(scope="module")
def app() -> Litestar:
    """The app as `portico serve` builds it; nothing is started, so nothing is connected.

    Probes and healthchecks in the manifests and the Dockerfile are checked against its
    routes, so that a renamed route fails here rather than in a cluster.
    """
    settings = load_settings(
        {"APP_ENV": "test", "DATABASE_URL": "postgresql://unused@127.0.0.1:1/unused"},
        env_file=None,
    )
    return create_app(make_container(settings), settings)
