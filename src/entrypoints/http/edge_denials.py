"""Refusals made at the edge, before any use case runs, written to the audit log.

The guard refuses some requests itself: a caller whose role lacks the route's permission
(403), and a client over a route's per-IP limit (429). The first is always recorded, as
``route.access`` on the route; the second only on routes that name what it is recorded as
(`AuditedAs`; signing in declares ``user.login``).

A client repeating a refused request could otherwise turn each repeat into an audit write:
each caller and route is recorded at most once per `THROTTLE` (counted by the app's
`RateLimiter` under keys of their own; with the limiter down, every refusal is recorded).
Recording never changes the answer: a failure to record is logged, and the refusal goes
out as it would have.
"""

import re
from dataclasses import dataclass
from typing import Any

from dishka import AsyncContainer
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from loguru import logger

from application.audit.record_denial import RecordDenial, RecordDenialCommand
from application.common.permissions import Permission
from application.common.ports.rate_limits import RateLimit, RateLimiter, RateLimiterUnavailableError
from domain.audit.entry import ACTION_PATTERN

ROUTE_ACCESS = "route.access"
"""The action of a request refused for a permission its caller's role lacks."""
ROUTE_TARGET = "route"
RATE_LIMITED = "rate_limited"
AUDITED_AS = "audited_as"
"""The route option naming what a per-IP rate-limit refusal on the route is recorded as."""
THROTTLE = RateLimit(limit=1, window_seconds=60)
"""At most one entry per caller and route in this window."""
THROTTLE_PREFIX = "audit-denial"
_ACTION = re.compile(ACTION_PATTERN)


@dataclass(frozen=True, slots=True)
class AuditedAs:
    """What a refusal of this route at the edge is recorded as: an action and a target type."""

    action: str
    target_type: str

    def __post_init__(self) -> None:
        if not _ACTION.match(self.action):
            raise ValueError(f"an audit action is `context.verb`, not {self.action!r}")


def route_name(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> str:
    """``<METHOD> <path template>``, as an audit entry names a route: ``GET /api/admin/audit``."""
    template = connection.scope.get("path_template") or min(handler.paths, default="-")
    return f"{connection.scope.get('method', '-')} {template}"


async def record_missing_permission(
    connection: ASGIConnection[Any, Any, Any, Any],
    handler: BaseRouteHandler,
    *,
    caller: str,
    permission: Permission,
) -> None:
    """Record that `caller` was refused the route for lacking `permission`."""
    route = route_name(connection, handler)
    await _record(
        connection,
        throttle_key=f"{THROTTLE_PREFIX}:{caller}:{route}",
        command=RecordDenialCommand(
            action=ROUTE_ACCESS,
            target_type=ROUTE_TARGET,
            target_id=route,
            reason=f"missing_permission:{permission.value}",
        ),
    )


async def record_rate_limited(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler, *, caller: str
) -> None:
    """Record a per-IP rate-limit refusal, if the route names what it is recorded as."""
    audited = handler.opt.get(AUDITED_AS)
    if not isinstance(audited, AuditedAs):
        return
    route = route_name(connection, handler)
    await _record(
        connection,
        throttle_key=f"{THROTTLE_PREFIX}:{caller}:{route}",
        command=RecordDenialCommand(
            action=audited.action,
            target_type=audited.target_type,
            target_id=None,
            reason=RATE_LIMITED,
        ),
    )


async def _record(
    connection: ASGIConnection[Any, Any, Any, Any],
    *,
    throttle_key: str,
    command: RecordDenialCommand,
) -> None:
    # Where dishka keeps it: tests/unit/test_reliances_http_stack.py
    container: AsyncContainer = connection.state.dishka_container
    try:
        if not await _first_in_window(container, throttle_key):
            return
        record_denial = await container.get(RecordDenial)
        await record_denial(command)
    except Exception:  # noqa: BLE001 - the refusal goes out whether or not it was recorded
        logger.exception("could not record the {} refusal in the audit log", command.action)


async def _first_in_window(container: AsyncContainer, key: str) -> bool:
    """Whether this is the caller's first refusal on the route in the window."""
    limiter: RateLimiter = await container.get(RateLimiter)
    try:
        decision = await limiter.acquire(key, THROTTLE)
    except RateLimiterUnavailableError:
        return True
    return decision.allowed
