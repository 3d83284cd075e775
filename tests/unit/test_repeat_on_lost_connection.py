"""A request whose connection died before it committed runs once more; nothing else does."""

from typing import Any

import httpx
from litestar import Litestar, post

from application.common.errors import ConnectionLostError, OutcomeUnknownError
from entrypoints.http.errors import EXCEPTION_HANDLERS
from entrypoints.http.middleware.repeat_on_lost_connection import (
    RepeatOnLostConnectionMiddleware,
)


def _app(failures: list[Exception], runs: list[bytes]) -> Litestar:
    @post("/echo", status_code=201)
    async def echo(data: dict[str, Any]) -> dict[str, Any]:
        runs.append(b"run")
        if failures:
            raise failures.pop(0)
        return data

    app = Litestar([echo], exception_handlers=dict(EXCEPTION_HANDLERS))  # type: ignore[arg-type]
    app.asgi_handler = RepeatOnLostConnectionMiddleware(app.asgi_handler)
    return app


async def _post(app: Litestar) -> httpx.Response:
    # httpx types an ASGI app with plain mappings, Litestar with TypedDicts; both are ASGI.
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post("/echo", json={"body": "kept"})


def _lost() -> ConnectionLostError:
    return ConnectionLostError("the connection was lost", field="database")


async def test_a_lost_connection_runs_the_request_again_with_the_same_body() -> None:
    runs: list[bytes] = []
    response = await _post(_app([_lost()], runs))
    assert response.status_code == 201, response.text
    assert response.json() == {"body": "kept"}
    assert len(runs) == 2


async def test_the_second_run_is_never_repeated() -> None:
    runs: list[bytes] = []
    response = await _post(_app([_lost(), _lost(), _lost()], runs))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json() == {"errors": {"database": ["the connection was lost"]}}
    assert len(runs) == 2


async def test_an_unknown_outcome_is_answered_at_once() -> None:
    runs: list[bytes] = []
    unknown = OutcomeUnknownError("may or may not have been saved", field="database")
    response = await _post(_app([unknown], runs))
    assert response.status_code == 503
    assert "retry-after" in response.headers
    assert len(runs) == 1
