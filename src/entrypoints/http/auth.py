"""Rate limits, authentication and permissions at the edge, in one guard.

What the guard does is driven by what each route declares. A route naming a rate limit is
counted per client IP first (429 when over it).

Every route is private unless its handler says ``opt={"public": True}``. A private route
needs a valid access token (401 before any other check), and the permission it names in
``opt={"permission": Permission.X}``, if any (403). A public route still reads a token when
one is sent, so it can tell who is looking; a bad one is refused there too. A 403 here, and
a 429 on a route that says how it is audited, go to the audit log (`edge_denials`).

Handlers learn who is calling by declaring the `actor` dependency (`DEPENDENCIES`):
``actor: Actor`` on a private route, ``actor: OptionalActor`` on a public one.
"""

from typing import Any

from dishka import AsyncContainer
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.handlers import BaseRouteHandler

from application.audit.context import ClientContext, current_actor, current_client
from application.common.errors import (
    AuthenticationRequiredError,
    PermissionDeniedError,
    TooManyRequestsError,
)
from application.common.identity import Identity
from application.common.permissions import Permission, role_allows
from application.common.ports.rate_limits import RateLimiter
from application.users.authenticate import Authenticate, AuthenticateCommand
from domain.audit.entry import AuditActor
from entrypoints.http.edge_denials import record_missing_permission, record_rate_limited
from entrypoints.http.rate_limits import EdgeRateLimits, enforce

PUBLIC = {"public": True}
OWN_CREDENTIALS = {"public": True, "own_credentials": True}
"""Route options for a route that reads the Authorization header itself, with credentials
that are not access tokens (`GET /metrics` and its bearer token): the guard leaves it alone."""
_ANONYMOUS = AuditActor.anonymous()
_SCHEMES = ("token", "bearer")
_STATE_KEY = "identity"

Actor = NamedDependency[Identity]
"""The caller, as a private route's handler declares it: ``actor: Actor``."""
OptionalActor = NamedDependency[Identity | None]
"""The caller, or None for an anonymous one, as a public route's handler declares it."""


def requires(permission: Permission) -> dict[str, Any]:
    """Route options for a private route that needs `permission`."""
    return {"permission": permission}


async def authenticate(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """The app-wide guard: establish the caller's identity and check the route's demands."""
    # Where dishka keeps it: tests/unit/test_reliances_http_stack.py
    container: AsyncContainer = connection.state.dishka_container
    limits = await container.get(EdgeRateLimits)
    client = ClientContext(
        limits.client_address.resolve(connection), connection.headers.get("user-agent")
    )
    current_client.set(client)
    current_actor.set(_ANONYMOUS)
    if handler.opt.get("own_credentials"):
        return
    if "rate_limit" in handler.opt:
        limiter = await container.get(RateLimiter)
        try:
            await enforce(connection, handler, limiter, limits)
        except TooManyRequestsError:
            await record_rate_limited(connection, handler, caller=client.ip or "-")
            raise
    public = bool(handler.opt.get("public"))
    credentials = _credentials(connection.headers.get("authorization"))
    if credentials is None:
        if public:
            return
        raise AuthenticationRequiredError("is missing")
    authenticate_token = await container.get(Authenticate)
    identity = await authenticate_token(AuthenticateCommand(token=credentials))
    connection.state[_STATE_KEY] = identity
    current_actor.set(AuditActor.user(str(identity.user_id), identity.username))
    permission = handler.opt.get("permission")
    if isinstance(permission, Permission) and not role_allows(identity.role, permission):
        await record_missing_permission(
            connection, handler, caller=str(identity.user_id), permission=permission
        )
        raise PermissionDeniedError("is required: " + permission.value)


def identity_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Identity | None:
    """The caller's identity, if the guard established one."""
    identity = connection.state.get(_STATE_KEY)
    return identity if isinstance(identity, Identity) else None


def required_identity(connection: ASGIConnection[Any, Any, Any, Any]) -> Identity:
    """The caller's identity on a private route, where the guard guarantees one."""
    identity = identity_of(connection)
    if identity is None:
        raise AuthenticationRequiredError("is missing")
    return identity


def actor(request: Request[Any, Any, Any]) -> Identity | None:
    """The caller's identity, as the guard established it; None on a public route only.

    A private route's handler can rely on an identity: without one the guard refused the
    request, and this refuses it too.
    """
    identity = identity_of(request)
    if identity is None and not request.route_handler.opt.get("public"):
        raise AuthenticationRequiredError("is missing")
    return identity


DEPENDENCIES = {"actor": Provide(actor, sync_to_thread=False)}
"""The app's dependencies: `actor` takes only the request, so no route documents it."""


def presented_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The access token the request carried, on a private route, where the guard read one.

    Handed back as is by the routes that show the caller's account: only a refresh mints
    access tokens.
    """
    token = _credentials(connection.headers.get("authorization"))
    if token is None:
        raise AuthenticationRequiredError("is missing")
    return token


def _credentials(header: str | None) -> str | None:
    """The token from ``Token <jwt>`` or ``Bearer <jwt>``; None when no header is sent.

    A header in any other shape is refused as invalid rather than ignored, so a client
    that sends credentials never silently proceeds as anonymous.
    """
    if header is None or not header.strip():
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() not in _SCHEMES or not value.strip():
        raise AuthenticationRequiredError("is invalid")
    return value.strip()
