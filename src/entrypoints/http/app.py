"""The Litestar app factory."""

import gc
from collections.abc import Sequence
from typing import Any

from dishka import AsyncContainer
from dishka.integrations.litestar import setup_dishka
from litestar import Litestar, Router
from litestar.exceptions import MethodNotAllowedException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.types import ControllerRouterHandler
from loguru import logger

from adapters.opentelemetry.switch import TRACING
from application.common.ports.metrics import LiveConnectionMetrics
from application.common.ports.realtime import RealtimeBroadcaster
from application.health.ports import HealthProbe
from entrypoints.config.loader import cors_policy
from entrypoints.config.settings import Settings
from entrypoints.http.auth import DEPENDENCIES, PUBLIC, authenticate
from entrypoints.http.background_relay import BackgroundRelay
from entrypoints.http.client_input import ClientRequest, refuse_hostile_text
from entrypoints.http.controllers.account_recovery import AccountRecoveryController
from entrypoints.http.controllers.admin import AdminUsersController
from entrypoints.http.controllers.articles import ArticlesController, list_tags
from entrypoints.http.controllers.audit import ActivityController, AuditController
from entrypoints.http.controllers.comments import CommentsController
from entrypoints.http.controllers.dashboard import (
    DashboardController,
    dashboard_asset,
    dashboard_page,
)
from entrypoints.http.controllers.docs import (
    API_REFERENCE_POLICY,
    ApiReferencePlugin,
    api_reference,
    api_reference_asset,
)
from entrypoints.http.controllers.files import (
    ArticleImagesController,
    FilesController,
    set_avatar,
)
from entrypoints.http.controllers.health import HealthController
from entrypoints.http.controllers.notifications.inbox import NotificationsController
from entrypoints.http.controllers.notifications.live_tickets import LiveTicketsController
from entrypoints.http.controllers.notifications.phone_number import PhoneNumberController
from entrypoints.http.controllers.notifications.preferences import (
    NotificationPreferencesController,
)
from entrypoints.http.controllers.notifications.push_subscriptions import (
    PushSubscriptionsController,
)
from entrypoints.http.controllers.profiles import ProfilesController
from entrypoints.http.controllers.sessions import SessionsController
from entrypoints.http.controllers.users import UsersController
from entrypoints.http.dashboard_figures import start_dashboard_figures
from entrypoints.http.errors import EXCEPTION_HANDLERS, envelope_framework_pages
from entrypoints.http.metrics.route import METRICS_PATH, metrics_endpoint
from entrypoints.http.metrics.runtime import ProcessMetrics
from entrypoints.http.middleware.access_log import AccessLogMiddleware
from entrypoints.http.middleware.allowed_methods import AllowedMethodsMiddleware
from entrypoints.http.middleware.body_guard import (
    BodyBudget,
    BodyGuardMiddleware,
)
from entrypoints.http.middleware.concurrency_limit import (
    EXEMPT_PREFIXES,
    ConcurrencyLimitMiddleware,
)
from entrypoints.http.middleware.cors import CorsMiddleware
from entrypoints.http.middleware.observe import (
    ObserveMiddleware,
    RequestObservers,
    install_request_observers,
)
from entrypoints.http.middleware.repeat_on_lost_connection import (
    RepeatOnLostConnectionMiddleware,
)
from entrypoints.http.middleware.request_id import RequestIdMiddleware
from entrypoints.http.middleware.security_headers import SecurityHeadersMiddleware
from entrypoints.http.middleware.streamed_routes import StreamedBodyRoutes
from entrypoints.http.middleware.tracing import TracingMiddleware
from entrypoints.http.openapi import COMPONENTS as OPENAPI_COMPONENTS
from entrypoints.http.openapi import document_routes
from entrypoints.http.pages import FORM_PATHS, PAGE_WRONG_METHOD_HANDLER, PAGES
from entrypoints.http.pages.state import Pages
from entrypoints.http.realtime.gateway import gateway
from entrypoints.http.realtime.hub import ConnectionHub
from entrypoints.http.realtime.stream import notification_stream
from entrypoints.http.schemas.closed_structs import ClosedStructSchemaPlugin
from entrypoints.http.schemas.users import UserResponse
from entrypoints.tracing import flush_tracing

ROUTE_HANDLERS: tuple[ControllerRouterHandler, ...] = (
    HealthController,
    UsersController,
    ProfilesController,
    SessionsController,
    AccountRecoveryController,
    AdminUsersController,
    AuditController,
    ActivityController,
    DashboardController,
    ArticlesController,
    CommentsController,
    list_tags,
    FilesController,
    ArticleImagesController,
    set_avatar,
    NotificationsController,
    LiveTicketsController,
    NotificationPreferencesController,
    PushSubscriptionsController,
    PhoneNumberController,
    notification_stream,
    gateway,
    api_reference,
    api_reference_asset,
    dashboard_page,
    dashboard_asset,
    PAGES,
)
"""Every route the app serves, before `extra_handlers`."""
API_TITLE = "Portico"
API_VERSION = "0.1.0"
_GC_THRESHOLDS = (700, 10, 1_000)


def create_app(
    container: AsyncContainer,
    settings: Settings,
    *,
    extra_handlers: Sequence[ControllerRouterHandler] = (),
) -> Litestar:
    """Build the app around a container; the app closes the container when it shuts down.

    The request id, access log, security headers, CORS, body guard and concurrency limit
    wrap the whole ASGI handler, so they cover unmatched routes too; an upload, whose body
    streams for as long as it takes, passes the guard straight to the handler, past the
    concurrency limit. CORS sits outside the body guard and the queue, so their refusals
    carry its headers and preflights never wait; it is left out when no origin is allowed.
    The APP-scope objects (engine, clients, probes) are built at start-up, so a bad setting
    fails the start rather than the first request. Inside them all, around each request's
    dependency scope, a request whose database connection died before it committed
    anything runs once more (`RepeatOnLostConnectionMiddleware`).
    `extra_handlers` lets tests and extensions mount more routes. The OpenAPI document's
    errors and security are derived from each route's declarations (`document_routes`), and
    OPTIONS lists every method of its path (`AllowedMethodsMiddleware`). Every HTTP request
    is timed once, outside all of these, and told to the observers registered with
    `request_observers(app)` (`ObserveMiddleware`): the Prometheus metrics when
    METRICS_MODE is set, which also count the limiter's queue wait; `GET /metrics` is
    mounted only under METRICS_MODE=token, and is never queued.

    Once started, everything built so far is moved out of the garbage collector's sight
    (`gc.freeze`): it lives as long as the process, and scanning it made every full
    collection stall all requests in flight for about 100 ms. Full collections then run a
    hundred times less often (`gc.set_threshold`): at the default they ran about once a
    second and paused every request in flight for 5 ms, while young ones, at the default
    size, pause for under a millisecond. A young generation of 20,000 had served 7% more
    requests but paused for 7 to 11 ms, which the p99 felt (`bench/README.md`).

    `settings` is passed beside the container because the app needs it synchronously, while
    it is being built, and dishka's async container only hands objects out in a coroutine.
    """
    background = BackgroundRelay(container, settings)
    observers = RequestObservers()
    process_metrics = ProcessMetrics.for_api(settings)
    metrics_routes = [metrics_endpoint] if settings.metrics.mode == "token" else []
    hub = ConnectionHub(
        queue_size=settings.websocket.send_queue_size,
        max_per_user=settings.websocket.max_connections_per_user,
    )

    async def warm_up(started: Litestar) -> None:
        await container.get(Sequence[HealthProbe])
        hub.start(
            await container.get(RealtimeBroadcaster),
            metrics=await container.get(LiveConnectionMetrics),
        )
        await process_metrics.start(container, observers)
        await start_dashboard_figures(started, container, hub)
        if settings.cache.redis_url is None and settings.app.workers > 1:
            logger.warning(
                "live notifications stay inside the worker process that delivers them; "
                "set REDIS_URL so sockets on every worker receive them"
            )
        gc.collect()
        gc.freeze()
        gc.set_threshold(*_GC_THRESHOLDS)
        background.start()

    async def close_container(_: Litestar) -> None:
        try:
            await process_metrics.stop()
            await hub.stop()
            await background.stop()
        finally:
            await container.close()
            logger.info("container closed")

    app = Litestar(
        route_handlers=[*ROUTE_HANDLERS, *metrics_routes, *extra_handlers],
        guards=[authenticate],
        dependencies=DEPENDENCIES,
        exception_handlers={
            **EXCEPTION_HANDLERS,  # type: ignore[dict-item]
            MethodNotAllowedException: PAGE_WRONG_METHOD_HANDLER,
        },
        request_class=ClientRequest,
        before_request=refuse_hostile_text,
        after_request=envelope_framework_pages,
        on_startup=[warm_up],
        on_shutdown=[close_container],
        openapi_config=OpenAPIConfig(
            title=API_TITLE,
            version=API_VERSION,
            description="The RealWorld Conduit API and the operations around it.",
            use_handler_docstrings=True,  # routes calling no use case: openapi.described_by
            path="/schema",
            components=OPENAPI_COMPONENTS,
            openapi_router=Router(
                "/schema", route_handlers=[], opt=PUBLIC, include_in_schema=False
            ),
            render_plugins=[ApiReferencePlugin(path="/"), JsonRenderPlugin()],
        ),
        request_max_body_size=settings.app.max_request_body_bytes,
        plugins=[ClosedStructSchemaPlugin()],
        debug=False,
        logging_config=None,
    )
    setup_dishka(container, app)
    document_routes(app)
    app.state.realtime_hub = hub
    install_request_observers(app, observers)
    app.state.websocket_settings = settings.websocket
    Pages.from_settings(settings).install(app.state)
    unqueued: Any = RepeatOnLostConnectionMiddleware(app.asgi_handler)
    handler = unqueued
    if settings.app.max_concurrent_requests:
        handler = ConcurrencyLimitMiddleware(
            unqueued,
            limit=settings.app.max_concurrent_requests,
            max_body_bytes=settings.app.max_request_body_bytes,
            exempt_prefixes=(*EXEMPT_PREFIXES, METRICS_PATH),
            observers=observers,
        )
    handler = BodyGuardMiddleware(
        handler,
        max_body_bytes=settings.app.max_request_body_bytes,
        budget=BodyBudget(settings.app.body_buffer_budget_bytes),
        read_timeout_seconds=settings.app.body_read_timeout_seconds,
        form_paths=FORM_PATHS,
        streamed_routes=StreamedBodyRoutes(app.routes),
        streaming_app=unqueued,
        max_streamed=settings.app.max_streamed_bodies,
    )
    handler = AllowedMethodsMiddleware(handler, routes=app.routes)
    cross_origin = cors_policy(settings)
    if cross_origin is not None:
        handler = CorsMiddleware(handler, policy=cross_origin)
    handler = SecurityHeadersMiddleware(
        handler,
        routes=app.routes,
        page_policy=API_REFERENCE_POLICY,
        token_bodies=(UserResponse,),
        strict_transport=settings.app.public_url.startswith("https://"),
    )
    handler = AccessLogMiddleware(handler)
    handler = ObserveMiddleware(handler, observers=observers)
    # Litestar serves through asgi_handler: tests/unit/test_reliances_http_stack.py
    app.asgi_handler = RequestIdMiddleware(handler)
    if TRACING.tracer is not None:
        app.asgi_handler = TracingMiddleware(app.asgi_handler, tracer=TRACING.tracer)
        app.on_shutdown.append(flush_tracing)
    return app
