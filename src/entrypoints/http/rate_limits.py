"""Rate limits at the edge, declared by routes and enforced by guards.

Per client IP: a route opts in with ``opt=auth_route()`` (public, limited under the ``auth``
rule), or ``opt=registration_route()`` (the ``auth`` rule and the stricter ``registration``
one); the app's guard counts each request against ``<rule>:<method> <path>:<client ip>`` for
every rule the route names, before authentication. A route that names what such a refusal
is (``auth_route(audited_as=...)``) has it written to the audit log (`edge_denials`).

Per user: a write route opts in with ``opt=write_route(FOLLOWS, Permission.X)`` and its
controller lists ``guards=[limit_writes]``; that guard runs after the app's (so the caller
is known, and 401/403 come first) and counts each request against ``<rule>:user:<user id>``,
one budget per user shared by every route naming the rule (a follow and an unfollow spend
the same one).

Tests walk the routes and fail if an auth route has no per-IP limit, or a follow, favorite,
comment, article-creation or upload route has no per-user one, so one cannot be added
without.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dishka import AsyncContainer
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from adapters.system.outage_log import OutageLog
from application.common.errors import DependencyUnavailableError, TooManyRequestsError
from application.common.permissions import Permission
from application.common.ports.metrics import RateLimitMetrics
from application.common.ports.rate_limits import RateLimit, RateLimiter, RateLimiterUnavailableError
from entrypoints.http.client_address import ClientAddressResolver
from entrypoints.http.edge_denials import AUDITED_AS, AuditedAs

AUTH = "auth"
REGISTRATION = "registration"
FOLLOWS = "follows"
FAVORITES = "favorites"
COMMENTS = "comments"
ARTICLES = "articles"
UPLOADS = "uploads"
WRITE_RULES = (FOLLOWS, FAVORITES, COMMENTS, ARTICLES, UPLOADS)
WRITE_RATE_LIMIT = "write_rate_limit"
_log = logging.getLogger(__name__)
_failing_open = OutageLog("rate limiter", what_waits="limits fail open until it is back")
"""One per process, so an outage of the store is logged once, not per request."""


def auth_route(
    *, permission: Permission | None = None, audited_as: AuditedAs | None = None
) -> dict[str, Any]:
    """Route options for an authentication route: limited per IP by construction.

    Public unless a `permission` is named, which makes it private and demands it. A
    refusal over the limit is written to the audit log as `audited_as`, when given.
    """
    options: dict[str, Any] = {"rate_limit": AUTH}
    options.update({"public": True} if permission is None else {"permission": permission})
    if audited_as is not None:
        options[AUDITED_AS] = audited_as
    return options


def registration_route() -> dict[str, Any]:
    """Route options for sign-up: public, under the `auth` rule and the `registration` rule.

    Sign-up answers 409 for a taken email or username (the RealWorld spec), so it tells
    whether an account exists; the per-client `registration` rule bounds how fast anyone
    can ask.
    """
    return {"public": True, "rate_limit": (AUTH, REGISTRATION)}


def write_route(rule: str, permission: Permission) -> dict[str, Any]:
    """Route options for a private write route limited per user under `rule`.

    The route's controller must list ``guards=[limit_writes]``, which does the counting.
    """
    if rule not in WRITE_RULES:
        raise ValueError(f"unknown write rate limit rule: {rule}")
    return {"permission": permission, WRITE_RATE_LIMIT: rule}


@dataclass(frozen=True, slots=True, kw_only=True)
class EdgeRateLimits:
    """The rules routes may name (per IP, per user), and whether to fail open without a store."""

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
        rate = limits.rules[rule_name]
        if not await _counted(limiter, limits, key=key, rate=rate, rule=rule_name, at=connection):
            return


async def limit_writes(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Guard: count the request against the caller's budget for the route's write rule.

    Runs after the app's guard, which authenticated the caller (a private route). 429 with
    Retry-After when over; the store being down is handled as for the per-IP rules.
    """
    rule_name = handler.opt.get(WRITE_RATE_LIMIT)
    if not isinstance(rule_name, str):
        return
    from entrypoints.http.auth import required_identity  # noqa: PLC0415 - auth imports this module

    identity = required_identity(connection)
    container: AsyncContainer = connection.state.dishka_container
    limiter = await container.get(RateLimiter)
    limits = await container.get(EdgeRateLimits)
    key = f"{rule_name}:user:{identity.user_id}"
    rate = limits.rules[rule_name]
    await _counted(limiter, limits, key=key, rate=rate, rule=rule_name, at=connection)


async def _counted(
    limiter: RateLimiter,
    limits: EdgeRateLimits,
    *,
    key: str,
    rate: RateLimit,
    rule: str,
    at: ASGIConnection[Any, Any, Any, Any],
) -> bool:
    """Count one request under `key`; False when the store is down and the limits fail open.

    A refusal is counted under `rule` (`RateLimitMetrics`, asked for only then).
    """
    try:
        decision = await limiter.acquire(key, rate)
    except RateLimiterUnavailableError as exc:
        if limits.fail_open:
            _failing_open.down(exc)
            return False
        _log.error("rate limiter unavailable (%s); failing closed", exc)
        raise DependencyUnavailableError(
            "is unavailable; try again shortly", field="rate_limit"
        ) from exc
    _failing_open.up()
    if not decision.allowed:
        container: AsyncContainer = at.state.dishka_container
        (await container.get(RateLimitMetrics)).request_limited(rule=rule)
        raise TooManyRequestsError(decision.retry_after_seconds)
    return True
