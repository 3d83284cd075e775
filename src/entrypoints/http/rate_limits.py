"""Per-IP rate limits at the edge, declared by routes and enforced by the guard.

A route opts in with ``opt=auth_route()`` (public, limited under the ``auth`` rule), or
``opt=registration_route()`` (the ``auth`` rule and the stricter ``registration`` one); the
guard counts each request against ``<rule>:<method> <path>:<client ip>`` for every rule the
route names. A test walks the routes and fails if an auth route has no limit, so one cannot
be added without.
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
REGISTRATION = "registration"
_log = logging.getLogger(__name__)


def auth_route(*, permission: Permission | None = None) -> dict[str, Any]:
    """Route options for an authentication route: limited per IP by construction.

    Public unless a `permission` is named, which makes it private and demands it.
    """
    if permission is None:
        return {"public": True, "rate_limit": AUTH}
    return {"permission": permission, "rate_limit": AUTH}


def registration_route() -> dict[str, Any]:
    """Route options for sign-up: public, under the `auth` rule and the `registration` rule.

    Sign-up answers 409 for a taken email or username (the RealWorld spec), so it tells
    whether an account exists; the per-client `registration` rule bounds how fast anyone
    can ask.
    """
    return {"public": True, "rate_limit": (AUTH, REGISTRATION)}


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
    """Count the request against each rule the route names, in order; 429 at the first refused.

    `opt["rate_limit"]` is a rule name or a tuple of them.
    """
    named = handler.opt.get("rate_limit")
    rule_names = (named,) if isinstance(named, str) else named
    if not isinstance(rule_names, tuple):
        return
    client = limits.client_address.resolve(connection)
    route = f"{connection.scope.get('method', '-')} {min(handler.paths, default='-')}"
    for rule_name in rule_names:
        key = f"{rule_name}:{route}:{client}"
        if not await _counted(limiter, limits, key=key, rate=limits.rules[rule_name]):
            return


async def _counted(
    limiter: RateLimiter, limits: EdgeRateLimits, *, key: str, rate: RateLimit
) -> bool:
    """Count one request under `key`; False when the store is down and the limits fail open."""
    try:
        decision = await limiter.acquire(key, rate)
    except RateLimiterUnavailableError as exc:
        if limits.fail_open:
            _log.warning("rate limiter unavailable (%s); failing open", exc)
            return False
        _log.error("rate limiter unavailable (%s); failing closed", exc)
        raise DependencyUnavailableError(
            "is unavailable; try again shortly", field="rate_limit"
        ) from exc
    if not decision.allowed:
        raise TooManyRequestsError(decision.retry_after_seconds)
    return True
