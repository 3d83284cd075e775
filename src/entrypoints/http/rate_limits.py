"""Per-IP rate limits at the edge, declared by routes and enforced by the guard.

A route opts in with ``opt=auth_route()`` (public, limited under the ``auth`` rule); the
guard counts each request against ``<rule>:<method> <path>:<client ip>``. A test walks the
routes and fails if an auth route has no limit, so one cannot be added without.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from application.common.errors import DependencyUnavailableError, TooManyRequestsError
from application.common.permissions import Permission
from application.ports.security import RateLimit, RateLimiter, RateLimiterUnavailableError
from entrypoints.http.client_address import ClientAddressResolver

AUTH = "auth"
_log = logging.getLogger(__name__)


def auth_route(*, permission: Permission | None = None) -> dict[str, Any]:
    """Route options for an authentication route: limited per IP by construction.

    Public unless a `permission` is named, which makes it private and demands it.
    """
    if permission is None:
        return {"public": True, "rate_limit": AUTH}
    return {"permission": permission, "rate_limit": AUTH}


@dataclass(frozen=True, slots=True, kw_only=True)
class EdgeRateLimits:
    """The rules routes may name, and whether to let requests through when the store is down."""

    rules: Mapping[str, RateLimit]
    fail_open: bool
    client_address: ClientAddressResolver


async def enforce(
    connection: ASGIConnection[Any, Any, Any, Any],
    handler: BaseRouteHandler,
    limiter: RateLimiter,
    limits: EdgeRateLimits,
) -> None:
    """Count the request against the route's rule; raise 429 when over it."""
    rule_name = handler.opt.get("rate_limit")
    if not isinstance(rule_name, str):
        return
    rate = limits.rules[rule_name]
    client = limits.client_address.resolve(connection)
    route = f"{connection.scope.get('method', '-')} {min(handler.paths, default='-')}"
    try:
        decision = await limiter.acquire(f"{rule_name}:{route}:{client}", rate)
    except RateLimiterUnavailableError as exc:
        if limits.fail_open:
            _log.warning("rate limiter unavailable (%s); failing open", exc)
            return
        _log.error("rate limiter unavailable (%s); failing closed", exc)
        raise DependencyUnavailableError(
            "is unavailable; try again shortly", field="rate_limit"
        ) from exc
    if not decision.allowed:
        raise TooManyRequestsError(decision.retry_after_seconds)
