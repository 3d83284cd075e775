"""The live admin dashboard: the page at /admin, its assets, and the stream it reads.

The page is public and holds no data: it signs in with the normal login
(`POST /api/users/login`), keeps the access token in memory, and reads
`GET /api/admin/dashboard/stream` through `fetch()` with the token in the Authorization
header, like any API call. EventSource would need the token in the URL or a ticket of its
own; fetch keeps the stream an ordinary guarded route that curl reads too. The refresh
cookie the login sets renews the token when the stream says it expired.

Every script and style is served from here (`static/dashboard/`, and uPlot, vendored at
`UPLOT_VERSION` in `static/uplot/` with its VERSION and LICENSE); the page uses the
system's fonts. Each asset's URL holds a digest of its bytes, so a browser keeps it for a
year and a changed file is a new URL. The page's Content-Security-Policy
(`DASHBOARD_POLICY`) lets it load only those, and connect only to this origin.
"""

import hashlib
import html
import math
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Annotated, Any, Final

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, MediaType, Request, Response, get
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import NotFoundException
from litestar.params import QueryParameter
from litestar.response import ServerSentEvent

from application.audit.policy import MAX_PAGE
from application.audit.read_audit_feed import ReadAuditFeed
from application.common.errors import DependencyUnavailableError, TooManyRequestsError
from application.common.ports.clock import Clock
from application.dashboard.read_dashboard import (
    MAX_HISTORY_SECONDS,
    ReadDashboard,
    ReadDashboardCommand,
)
from entrypoints.config.settings import Settings
from entrypoints.http.auth import PUBLIC, Actor, presented_token, requires
from entrypoints.http.openapi import described_by, error_responses
from entrypoints.http.realtime.audit_stream import release_request_scope
from entrypoints.http.realtime.dashboard_stream import (
    REQUIRED,
    DashboardFollower,
    dashboard_events,
)
from entrypoints.http.realtime.hub import ConnectionHub
from entrypoints.http.realtime.stream import FULL_RETRY_AFTER_SECONDS
from entrypoints.http.schemas.audit import LastEventId

UPLOT_VERSION = "1.6.32"
ASSETS_PATH = "/admin/assets"
ASSET_CACHE = CacheControlHeader(public=True, max_age=365 * 24 * 3600, immutable=True)
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
FIRST_AUDIT_ENTRIES = 15
"""How many of the latest audit entries a stream starts with (the page shows as many)."""

_POLICY_DIRECTIVES = (
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "require-trusted-types-for 'script'",
    "trusted-types 'none'",
)
DASHBOARD_POLICY: Final = "; ".join(_POLICY_DIRECTIVES)
"""The page's Content-Security-Policy: its own scripts and styles, calls to this origin,
no inline script or style, no eval, and no string ever turned into markup or script."""

HistorySeconds = Annotated[
    int,
    QueryParameter(
        ge=0,
        le=MAX_HISTORY_SECONDS,
        schema_extra={"minimum": 0},  # Litestar leaves a bound of 0 out (schemas/pagination.py)
        description=(
            f"Seconds of per-second figures the first event holds, 0 to {MAX_HISTORY_SECONDS}"
            f" (default {MAX_HISTORY_SECONDS})."
        ),
    ),
]


@dataclass(frozen=True, slots=True)
class Asset:
    """A file the page loads: its bytes, media type, and the URL it is served at."""

    name: str
    body: bytes
    media_type: str

    @classmethod
    def of(cls, path: Path, media_type: str) -> "Asset":
        """The file at `path`, read once."""
        return cls(path.name, path.read_bytes(), media_type)

    @property
    def digest(self) -> str:
        """The first 16 hex digits of the SHA-256 of its bytes."""
        return hashlib.sha256(self.body).hexdigest()[:16]

    @property
    def url(self) -> str:
        """Where the page asks for it; other bytes, another URL."""
        return f"{ASSETS_PATH}/{self.digest}/{self.name}"


_JAVASCRIPT = "text/javascript; charset=utf-8"
_CSS = "text/css; charset=utf-8"
UPLOT_JS = Asset.of(STATIC_DIR / "uplot" / "uPlot.iife.min.js", _JAVASCRIPT)
UPLOT_CSS = Asset.of(STATIC_DIR / "uplot" / "uPlot.min.css", _CSS)
DASHBOARD_JS = Asset.of(STATIC_DIR / "dashboard" / "dashboard.js", _JAVASCRIPT)
DASHBOARD_CSS = Asset.of(STATIC_DIR / "dashboard" / "dashboard.css", _CSS)
ASSETS: Final = {a.name: a for a in (UPLOT_JS, UPLOT_CSS, DASHBOARD_JS, DASHBOARD_CSS)}
_PAGE = Template((STATIC_DIR / "dashboard" / "admin.html").read_text())


def render_page(app_name: str) -> str:
    """The page, naming the app and its assets' URLs."""
    return _PAGE.substitute(
        app_name=html.escape(app_name),
        uplot_js=UPLOT_JS.url,
        uplot_css=UPLOT_CSS.url,
        dashboard_js=DASHBOARD_JS.url,
        dashboard_css=DASHBOARD_CSS.url,
    )


_PAGE_OPT = {**PUBLIC, "content_security_policy": DASHBOARD_POLICY}


@get("/admin", media_type=MediaType.HTML, include_in_schema=False, cache=False, opt=_PAGE_OPT)
@inject
async def dashboard_page(settings: FromDishka[Settings]) -> Response[str]:
    """The dashboard's page: a sign-in form, and the figures once an admin is signed in."""
    return Response(render_page(settings.app.name), headers={"Cache-Control": "no-cache"})


@get(f"{ASSETS_PATH}/{{digest:str}}/{{name:str}}", include_in_schema=False, opt=PUBLIC)
async def dashboard_asset(digest: str, name: str) -> Response[bytes]:
    """One of the page's scripts or styles, at the digest of its bytes."""
    asset = ASSETS.get(name)
    if asset is None or asset.digest != digest:
        raise NotFoundException("is not an asset of the dashboard")
    return Response(
        asset.body, media_type=asset.media_type, headers={"Cache-Control": ASSET_CACHE.to_header()}
    )


class DashboardController(Controller):
    """The live dashboard's figures, for the `audit:read` permission (administrators)."""

    path = "/api/admin/dashboard"
    tags = ["dashboard"]  # noqa: RUF012 - Litestar reads this class attribute
    opt = requires(REQUIRED)

    @get(
        "/stream",
        media_type="text/event-stream",
        summary="Live dashboard (SSE)",
        description=described_by(ReadDashboard),
        response_description=(
            "`text/event-stream`: `event: figures` every DASHBOARD_TICK_SECONDS, its data "
            "the figures as JSON (a figure is null while its store is unreachable); and each "
            "new audit entry as `id: <seq>`, `event: audit`, `data:` the entry's JSON as "
            "`GET /api/admin/audit` lists it. The stream ends with `event: expired`, "
            "`session_ended` or `forbidden` when the token expires, the session ends or the "
            "account loses `audit:read`; reconnect with `Last-Event-ID` to resume the "
            "entries."
        ),
        responses=error_responses(
            too_many_requests=(
                "The caller has as many live connections as WS_MAX_CONNECTIONS_PER_USER."
            ),
            unavailable="The process serves as many live connections as WS_MAX_LIVE_CONNECTIONS.",
        ),
    )
    @inject
    async def stream(
        self,
        *,
        actor: Actor,
        request: Request[Any, Any, Any],
        read_dashboard: FromDishka[ReadDashboard],
        read_feed: FromDishka[ReadAuditFeed],
        settings: FromDishka[Settings],
        clock: FromDishka[Clock],
        last_event_id: LastEventId = None,
        history: HistorySeconds = MAX_HISTORY_SECONDS,
    ) -> ServerSentEvent:
        hub: ConnectionHub = request.app.state.realtime_hub
        live = settings.websocket
        if hub.live >= live.max_live_connections:
            raise DependencyUnavailableError(
                "live streams are at capacity; retry later",
                field="stream",
                retry_after_seconds=FULL_RETRY_AFTER_SECONDS,
            )
        if not hub.has_room_for(actor.user_id):
            raise TooManyRequestsError(max(1, math.ceil(live.heartbeat_seconds)))
        snapshot = await read_dashboard(ReadDashboardCommand(history_seconds=history))
        if last_event_id is None:
            entries = await read_feed.latest(FIRST_AUDIT_ENTRIES)
        else:
            entries = await read_feed.after(last_event_id, limit=MAX_PAGE)
        follower = DashboardFollower(
            # Where dishka keeps the app's container: tests/unit/test_reliances_http_stack.py
            container=request.app.state.dishka_container,
            token=presented_token(request),
            last_seq=last_event_id or 0,
            tick_seconds=settings.dashboard.tick_seconds,
        )
        await release_request_scope(request)
        return ServerSentEvent(
            dashboard_events(
                hub,
                actor,
                (snapshot, entries),
                follower,
                clock=clock,
                max_live=live.max_live_connections,
            ),
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
