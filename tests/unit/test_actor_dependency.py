"""The caller's identity reaches handlers as the `actor` dependency, which no route documents.

A private route's handler declares ``actor: Actor``, a public one ``actor: OptionalActor``: the
other way round, an anonymous caller of a public route would meet a server error. Both name
the dependency explicitly, as Litestar 3 will require.
"""

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute

from entrypoints.config import load_settings
from entrypoints.http.app import create_app
from entrypoints.http.auth import Actor, OptionalActor
from entrypoints.ioc import make_container
from tests.support.documented_app import documented_app


@pytest.fixture(scope="module")
def app() -> Litestar:
    return documented_app()


def handlers(app: Litestar) -> Iterator[tuple[str, HTTPRouteHandler]]:
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                yield route.path_format, handler


def test_no_operation_documents_the_actor(app: Litestar) -> None:
    document: dict[str, Any] = app.openapi_schema.to_schema()
    documented = [
        (path, method, parameter["name"])
        for path, item in document["paths"].items()
        for method, operation in item.items()
        for parameter in operation.get("parameters", [])
    ]
    assert documented
    assert [entry for entry in documented if entry[2] == "actor"] == []


def test_only_public_routes_take_an_optional_actor(app: Litestar) -> None:
    declared = {
        (path, handler.handler_name): (
            bool(handler.opt.get("public")),
            handler.parsed_fn_signature.parameters["actor"].raw,
        )
        for path, handler in handlers(app)
        if "actor" in handler.parsed_fn_signature.parameters
    }
    assert declared
    wrong = {
        where: (public, annotation)
        for where, (public, annotation) in declared.items()
        if annotation != (OptionalActor if public else Actor)
    }
    assert wrong == {}


def test_no_handler_leaves_the_actor_to_be_inferred() -> None:
    settings = load_settings(
        {"APP_ENV": "test", "DATABASE_URL": "postgresql://unused@127.0.0.1:1/unused"},
        env_file=None,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        create_app(make_container(settings), settings)
    assert [str(w.message) for w in caught if "'actor'" in str(w.message)] == []
