"""The HTTP app in-process, on the real container: middleware, error envelope and health."""

import asyncio
import inspect
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.testing import AsyncTestClient
from litestar.utils.sync import AsyncCallable
from loguru import logger

from entrypoints.logs import configure_logging
from tests.support.http_app import IN_FLIGHT, LIMIT, FailingRedis, build_app, records
from tests.support.network import closed_port
from tests.support.postgres import engine_for_tests

pytestmark = pytest.mark.integration


@pytest.fixture
def log_lines() -> io.StringIO:
    buffer = io.StringIO()
    configure_logging(level="INFO", json_format=True, sink=buffer)
    return buffer


@pytest.fixture
async def client(
    migrated_url: str, log_lines: io.StringIO
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(build_app(migrated_url)) as client:
        yield client
    logger.remove()


async def test_liveness(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readiness_checks_the_real_database(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["dependencies"]["database"]["status"] == "up"
    assert body["failing"] == []


async def test_readiness_is_503_and_names_the_dependency_that_is_down(migrated_url: str) -> None:
    async with AsyncTestClient(build_app(migrated_url, FailingRedis())) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failing"] == ["redis"]
    assert body["dependencies"]["redis"] == {
        "status": "down",
        "latency_ms": body["dependencies"]["redis"]["latency_ms"],
        "error": "ConnectionRefusedError",
    }


async def test_a_well_formed_request_id_is_kept_and_echoed(
    client: AsyncTestClient[Litestar], log_lines: io.StringIO
) -> None:
    response = await client.get("/health/live", headers={"X-Request-ID": "trace-abc.123"})
    assert response.headers["x-request-id"] == "trace-abc.123"
    (access,) = [r for r in records(log_lines) if r["logger"] == "portico.access"]
    assert access["request_id"] == "trace-abc.123"
    assert access["extra"]["method"] == "GET"
    assert access["extra"]["path"] == "/health/live"
    assert access["extra"]["status"] == 200
    assert access["extra"]["duration_ms"] >= 0


@pytest.mark.parametrize(
    "incoming", ["x" * 129, "evil\u2028line", "with space", "", "-leading-dash", "a;b"]
)
async def test_a_malformed_request_id_is_replaced(
    client: AsyncTestClient[Litestar], incoming: str
) -> None:
    response = await client.get("/health/live", headers=[(b"X-Request-ID", incoming.encode())])
    generated = response.headers["x-request-id"]
    assert generated != incoming
    assert len(generated) == 32


async def test_every_request_gets_its_own_id(client: AsyncTestClient[Litestar]) -> None:
    first = await client.get("/health/live")
    second = await client.get("/health/live")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"name": 42}', {"name": ["must be a string"]}),
        (b'{"times": 2}', {"name": ["can't be blank"]}),
        (b'{"name": ""}', {"name": ["is too short (minimum is 1 characters)"]}),
        (b'{"name": "Ada", "times": 0}', {"times": ["must be at least 1"]}),
        (b'{"name": "Ada", "times": "2"}', {"times": ["must be an integer"]}),
        (b'{"name": "Ada", "admin": true}', {"admin": ["is not a known field"]}),
        (b"[1]", {"body": ["must be an object"]}),
        (b"{", {"body": ["is not valid JSON"]}),
    ],
)
async def test_decode_errors_read_like_the_realworld_envelope(
    client: AsyncTestClient[Litestar], body: bytes, expected: dict[str, list[str]]
) -> None:
    response = await client.post(
        "/test/echo", content=body, headers={"content-type": "application/json"}
    )
    assert response.json() == {"errors": expected}


async def test_a_valid_body_round_trips(client: AsyncTestClient[Litestar]) -> None:
    response = await client.post("/test/echo", json={"name": "Ada", "times": 2})
    assert response.status_code == 200
    assert response.json() == {"name": "Ada", "times": 2}


@pytest.mark.parametrize(
    ("body", "content_type", "status", "key"),
    [
        (b'{"name": "Ada"', "application/json", 400, "body"),
        (b"not json at all", "application/json", 400, "body"),
        (b"", "application/json", 422, "body"),
        (b"\xff\xfe\x00", "application/json", 400, "body"),
        (b'{"name": 42}', "application/json", 422, "name"),
        (b'{"name": ""}', "application/json", 422, "name"),
        (b'{"name": "Ada", "times": 11}', "application/json", 422, "times"),
        (b'{"name": "Ada", "admin": true}', "application/json", 422, "admin"),
        (b"[1, 2, 3]", "application/json", 422, "body"),
        (b'{"name": "Ada"}', "text/plain", 415, "content_type"),
        (b"name=Ada", "application/x-www-form-urlencoded", 415, "content_type"),
        (b'{"times": 2}', "application/json", 422, "name"),
        (b'{"name": "' + b"A" * 60 + b'"}', "application/json", 422, "name"),
    ],
)
async def test_malformed_bodies_get_a_4xx_in_the_envelope(
    client: AsyncTestClient[Litestar],
    body: bytes,
    content_type: str,
    status: int | None,
    key: str | None,
) -> None:
    response = await client.post("/test/echo", content=body, headers={"content-type": content_type})
    assert 400 <= response.status_code < 500, response.text
    if status is not None:
        assert response.status_code == status, response.text
    errors = response.json()["errors"]
    assert all(isinstance(v, list) and all(isinstance(m, str) for m in v) for v in errors.values())
    if key is not None:
        assert key in errors, errors


async def test_a_declared_oversize_body_is_refused_with_413(
    client: AsyncTestClient[Litestar],
) -> None:
    response = await client.post(
        "/test/echo", content=b"x" * (LIMIT + 1), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json() == {"errors": {"body": [f"is too large; the limit is {LIMIT} bytes"]}}


async def test_a_garbage_content_length_is_a_400(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/health/live", headers={"content-length": "-5"})
    assert response.status_code == 400
    assert "body" in response.json()["errors"]


async def test_an_unknown_route_is_a_404_envelope(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/no/such/route")
    assert response.status_code == 404
    assert response.json() == {"errors": {"route": ["not found"]}}
    assert "x-request-id" in response.headers


async def test_a_wrong_method_is_a_405_envelope(client: AsyncTestClient[Litestar]) -> None:
    response = await client.delete("/health/live")
    assert response.status_code == 405
    assert response.json() == {"errors": {"method": ["is not allowed on this route"]}}


async def test_application_errors_map_through_the_table(client: AsyncTestClient[Litestar]) -> None:
    missing = await client.post("/test/missing")
    assert missing.status_code == 404
    assert missing.json() == {"errors": {"article": ["does not exist"]}}
    taken = await client.post("/test/conflict")
    assert taken.status_code == 409
    assert taken.json() == {"errors": {"username": ["has already been taken"]}}


async def test_an_unexpected_error_is_a_500_without_internals(
    client: AsyncTestClient[Litestar], log_lines: io.StringIO
) -> None:
    response = await client.post("/test/boom", headers={"X-Request-ID": "boom-1"})
    assert response.status_code == 500
    assert response.json() == {
        "errors": {"server": ["an internal error occurred; reference boom-1"]}
    }
    assert "hunter2" not in response.text
    (error,) = [r for r in records(log_lines) if r["level"] == "ERROR"]
    assert error["request_id"] == "boom-1"
    assert "RuntimeError: internal detail" in error["exception"]
    assert "Traceback" in error["exception"]


async def test_the_openapi_document_describes_the_health_routes(
    client: AsyncTestClient[Litestar],
) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["info"]["title"] == "Portico"
    assert {"/health/live", "/health/ready"} <= set(document["paths"])
    ready = document["paths"]["/health/ready"]["get"]
    assert {"200", "503"} <= set(ready["responses"])


async def test_the_interactive_reference_is_served_at_docs(
    client: AsyncTestClient[Litestar],
) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/schema/openapi.json" in response.text


async def test_a_streamed_oversize_body_is_refused_with_413(migrated_url: str) -> None:
    """A chunked body declares no length, so it is counted as it is read."""
    app = build_app(migrated_url)
    chunks = [b"x" * 1024] * 8
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        body = chunks.pop() if chunks else b""
        return {"type": "http.request", "body": body, "more_body": bool(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/test/echo",
        "raw_path": b"/test/echo",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    # A raw ASGI call with plain dicts: Litestar types the scope and messages as TypedDicts.
    await app(scope, receive, send)  # type: ignore[arg-type]
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert start["status"] == 413
    assert json.loads(body) == {"errors": {"body": ["is too large"]}}


async def test_a_domain_rule_is_a_422(client: AsyncTestClient[Litestar]) -> None:
    response = await client.post("/test/rule")
    assert response.status_code == 422
    assert response.json() == {"errors": {"request": ["an article needs a title"]}}


@pytest.mark.parametrize("path", ["/schema/foo", "/schema/redoc", "/schema/x.json"])
async def test_unknown_schema_paths_are_404_envelopes(
    client: AsyncTestClient[Litestar], path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.json() == {"errors": {"route": ["not found"]}}


async def test_a_path_cannot_forge_a_log_line(
    client: AsyncTestClient[Litestar], log_lines: io.StringIO
) -> None:
    await client.get("/x%0a2026-01-01%20ERROR%20forged")
    (access,) = [r for r in records(log_lines) if r["logger"] == "portico.access"]
    assert access["extra"]["path"] == "/x%0a2026-01-01%20ERROR%20forged"
    assert "\n" not in access["message"]


async def test_readiness_probes_a_configured_redis_for_real(
    migrated_url: str, redis_url: str
) -> None:
    async with AsyncTestClient(build_app(migrated_url, REDIS_URL=redis_url)) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 200
    assert set(response.json()["dependencies"]) == {"database", "redis", "file_storage"}


async def test_an_unreachable_redis_is_a_503_naming_it_never_a_500(migrated_url: str) -> None:
    url = f"redis://127.0.0.1:{closed_port()}/0"
    async with AsyncTestClient(build_app(migrated_url, REDIS_URL=url)) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["failing"] == ["redis"]


async def test_sql_echo_goes_through_the_log_pipeline_without_parameters(
    migrated_url: str,
) -> None:
    buffer = io.StringIO()
    configure_logging(level="INFO", json_format=True, sink=buffer, sql_echo=True)
    engine = engine_for_tests(migrated_url)
    try:
        async with engine.connect() as connection:
            await connection.execute(sa.text("SELECT :marker"), {"marker": "p4ram-value"})
    finally:
        await engine.dispose()
        configure_logging(level="INFO", json_format=False)
    statements = [r for r in records(buffer) if r["logger"].startswith("sqlalchemy.engine")]
    assert any("SELECT" in r["message"] for r in statements)
    assert "p4ram-value" not in buffer.getvalue()


def test_no_hook_guard_or_handler_is_sent_to_a_worker_thread(migrated_url: str) -> None:
    """Litestar runs a plain-function hook or handler in a thread: a hop on every request."""
    app = build_app(migrated_url)
    threaded = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if not isinstance(handler, HTTPRouteHandler):
                continue
            if isinstance(handler.fn, AsyncCallable):
                threaded.append((route.path, "handler"))
            hooks: dict[str, object] = {}
            for layer in handler.ownership_layers:
                for name in ("before_request", "after_request", "after_response"):
                    hooks[f"{name} of {layer!r}"] = getattr(layer, name, None)
            hooks.update({f"guard {guard!r}": guard for guard in handler.resolve_guards()})
            threaded += [
                (route.path, name)
                for name, hook in hooks.items()
                if hook is not None
                and (isinstance(hook, AsyncCallable) or not inspect.iscoroutinefunction(hook))
            ]
    assert threaded == []


@pytest.mark.parametrize(("limit", "most"), [("2", 2), ("0", 6)])
async def test_the_app_handles_at_most_the_configured_number_of_requests_at_once(
    migrated_url: str, limit: str, most: int
) -> None:
    IN_FLIGHT["most"] = 0
    app = build_app(migrated_url, APP_MAX_CONCURRENT_REQUESTS=limit)
    # httpx types an ASGI app with plain mappings, Litestar with TypedDicts; both are ASGI.
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://portico") as client:
        responses = await asyncio.gather(*(client.post("/test/hold") for _ in range(6)))
    assert [response.status_code for response in responses] == [200] * 6
    assert IN_FLIGHT["most"] == most
