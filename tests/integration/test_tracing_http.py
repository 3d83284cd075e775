"""The request's SERVER span, on the real app in-process: named after its route template.

It continues a caller's W3C trace, carries the status and the request id but never the
query, is failed by a 5xx and not by a 4xx, and its statements are its children. While
tracing is off the app has no tracing middleware at all.
"""

from collections.abc import AsyncIterator, Iterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from entrypoints.http.middleware.tracing import TracingMiddleware
from tests.support.http_app import build_app
from tests.support.tracing import FinishedSpans, tracing_on

pytestmark = pytest.mark.integration

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


@pytest.fixture
def traced() -> Iterator[FinishedSpans]:
    with tracing_on() as spans:
        yield spans


@pytest.fixture
async def client(
    migrated_url: str, traced: FinishedSpans
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(build_app(migrated_url)) as client:
        traced.clear()
        yield client


def server_spans(traced: FinishedSpans) -> list[ReadableSpan]:
    return [span for span in traced.all() if span.kind is SpanKind.SERVER]


async def test_a_request_span_is_named_after_the_route_and_continues_the_callers_trace(
    client: AsyncTestClient[Litestar], traced: FinishedSpans
) -> None:
    response = await client.get(
        "/api/articles/no-such-article?token=query-secret",
        headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"},
    )
    assert response.status_code == 404
    (request,) = server_spans(traced)
    attributes = request.attributes or {}
    assert request.name == "GET /api/articles/{slug}"
    assert attributes["http.route"] == "/api/articles/{slug}"
    assert attributes["url.path"] == "/api/articles/no-such-article"
    assert "query-secret" not in " ".join(str(value) for value in attributes.values())
    assert attributes["http.response.status_code"] == 404
    assert attributes["portico.request_id"] == response.headers["x-request-id"]
    assert request.status.status_code is StatusCode.UNSET
    assert f"{request.context.trace_id:032x}" == CALLER_TRACE
    assert request.parent is not None
    assert f"{request.parent.span_id:016x}" == CALLER_SPAN
    statements = [s for s in traced.all() if s.kind is SpanKind.CLIENT]
    assert statements
    assert all(s.parent and s.parent.span_id == request.context.span_id for s in statements)


async def test_a_server_error_fails_the_span_and_an_unknown_path_keeps_the_method_alone(
    client: AsyncTestClient[Litestar], traced: FinishedSpans
) -> None:
    assert (await client.post("/test/boom")).status_code == 500
    assert (await client.get("/no/such/path")).status_code == 404
    failed, unknown = server_spans(traced)
    assert failed.name == "POST /test/boom"
    assert failed.status.status_code is StatusCode.ERROR
    assert (failed.attributes or {})["http.response.status_code"] == 500
    assert failed.parent is None
    assert unknown.name == "GET"
    assert "http.route" not in (unknown.attributes or {})
    assert unknown.status.status_code is StatusCode.UNSET


async def test_without_tracing_the_app_has_no_tracing_middleware(migrated_url: str) -> None:
    app = build_app(migrated_url)
    assert not isinstance(app.asgi_handler, TracingMiddleware)
    with tracing_on():
        assert isinstance(build_app(migrated_url).asgi_handler, TracingMiddleware)
