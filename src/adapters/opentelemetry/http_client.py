"""Spans for outgoing HTTP requests (the SMS gateway, push services), through httpx.

A span names the method and the server, never the path or the query: a push endpoint's
path is the capability to push to one browser, and an SMS gateway's names the account.
No trace context is sent along: these are other organisations' services.
"""

import httpx
from opentelemetry.trace import SpanKind, StatusCode, get_current_span

from adapters.opentelemetry.switch import TRACING

_CLIENT_ERROR = 400


class TracingTransport(httpx.AsyncBaseTransport):
    """An httpx transport that wraps another, with a CLIENT span around each request.

    Only inside a span in progress (a job, an event handled): the span ends when the
    response's head has arrived, or the request failed.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send the request inside its span."""
        tracer = TRACING.tracer
        if tracer is None or not get_current_span().is_recording():
            return await self._inner.handle_async_request(request)
        url = request.url
        with tracer.start_as_current_span(
            request.method,
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": request.method,
                "server.address": url.host,
                "server.port": url.port or (443 if url.scheme == "https" else 80),
                "url.scheme": url.scheme,
            },
        ) as span:
            response = await self._inner.handle_async_request(request)
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= _CLIENT_ERROR:
                span.set_attribute("error.type", str(response.status_code))
                span.set_status(StatusCode.ERROR)
            return response

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self._inner.aclose()


def traced_transport() -> httpx.AsyncBaseTransport | None:
    """A transport for a new `httpx.AsyncClient`: a traced one while tracing is on.

    None while it is off, which leaves httpx its own transport, untouched.
    """
    if TRACING.tracer is None:
        return None
    return TracingTransport(httpx.AsyncHTTPTransport())
