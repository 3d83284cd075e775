"""`GET /metrics` on a port of its own: METRICS_PORT for the API, METRICS_WORKER_PORT for workers.

aiohttp's server runs in the process's event loop beside what it serves. The API's
processes all bind METRICS_PORT with SO_REUSEPORT, as granian binds APP_PORT, so whichever
the kernel hands a scrape to answers for all of them (multiprocess mode); `portico serve`
checks the port is free before it starts them.
"""

from collections.abc import Awaitable, Callable

import msgspec
from aiohttp import web

from adapters.prometheus.exposition import CONTENT_TYPE
from application.common.errors import AuthenticationRequiredError
from entrypoints.http.errors import envelope
from entrypoints.http.metrics.route import METRICS_PATH, TOKEN_REFUSED, bearer_token_matches

Render = Callable[[], Awaitable[bytes]]


class MetricsPort:
    """Serves the exposition on `host:port`, behind `token` when one is given.

    Anything but `GET /metrics` is 404 (405 for another method), in the error envelope,
    like the API's answers.
    """

    def __init__(
        self,
        render: Render,
        *,
        host: str,
        port: int,
        token: str | None,
        reuse_port: bool,
    ) -> None:
        self._render = render
        self._host = host
        self._port = port
        self._token = token
        self._reuse_port = reuse_port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Bind and serve; OSError when the port is taken."""
        app = web.Application()
        app.router.add_get(METRICS_PATH, self._metrics, allow_head=False)
        app.middlewares.append(_enveloped)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port, reuse_port=self._reuse_port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, request: web.Request) -> web.Response:
        if self._token is not None and not bearer_token_matches(
            request.headers.get("Authorization"), self._token
        ):
            return _error(401, AuthenticationRequiredError.field, TOKEN_REFUSED)
        return web.Response(body=await self._render(), headers={"Content-Type": CONTENT_TYPE})


@web.middleware
async def _enveloped(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPMethodNotAllowed:
        return _error(405, "method", "is not allowed on this route")
    except web.HTTPNotFound:
        return _error(404, "route", "not found")


def _error(status: int, key: str, message: str) -> web.Response:
    return web.Response(
        status=status,
        body=msgspec.json.encode(envelope(key, message)),
        content_type="application/json",
    )
