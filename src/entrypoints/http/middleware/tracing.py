"""A SERVER span per HTTP request, named after the route template that answered it."""

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from opentelemetry.propagate import extract, get_global_textmap
from opentelemetry.trace import SpanKind, StatusCode, Tracer

from entrypoints.http.errors import loggable_path

_SERVER_ERROR = 500


class TracingMiddleware:
    """Opens the request's span, continuing the caller's trace from its W3C headers.

    - The span is named ``METHOD /route/{template}`` once routing found the route (the
      raw path never is: it would make one name per article); a request no route matched
      keeps the method alone.
    - It carries the method, the route, the path as the access log has it (never the
      query, which may hold a link's token), the status and the request id
      (``portico.request_id``, the id the logs and the error envelope give).
    - A 5xx or an exception marks it failed; a 4xx does not (the server did its job).
    - Outermost in the stack, so the log lines of the request carry its trace and span ids.
      WebSocket connections get none: a span as long as a connection says nothing.
    """

    def __init__(self, app: ASGIApp, *, tracer: Tracer) -> None:
        self._app = app
        self._tracer = tracer
        self._fields = {field.encode("latin-1") for field in get_global_textmap().fields}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request inside its span."""
        if scope["type"] != ScopeType.HTTP:
            await self._app(scope, receive, send)
            return
        method = scope["method"]
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in self._fields
        }
        with self._tracer.start_as_current_span(
            method,
            context=extract(carrier) if carrier else None,
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": method,
                "url.path": loggable_path(scope),
                "url.scheme": scope.get("scheme", "http"),
                "network.protocol.version": scope.get("http_version", "1.1"),
            },
        ) as span:

            async def send_traced(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status = message["status"]
                    span.set_attribute("http.response.status_code", status)
                    if status >= _SERVER_ERROR:
                        span.set_attribute("error.type", str(status))
                        span.set_status(StatusCode.ERROR)
                await send(message)

            try:
                await self._app(scope, receive, send_traced)
            finally:
                template = scope.get("path_template")
                if template:
                    span.update_name(f"{method} {template}")
                    span.set_attribute("http.route", template)
                request_id = scope.get("state", {}).get("request_id")
                if request_id:
                    span.set_attribute("portico.request_id", request_id)
