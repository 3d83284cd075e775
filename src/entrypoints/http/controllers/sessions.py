"""Sessions: refresh-token rotation, logout, and the list of one's sessions, under /api/auth."""

import re
from enum import StrEnum
from typing import Any
from uuid import UUID

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Request, Response, delete, get, post
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from application.common.errors import AuthenticationRequiredError
from application.common.permissions import Permission
from application.users.authenticated_user import AuthenticatedUser
from application.users.list_sessions import ListSessions, ListSessionsCommand
from application.users.log_out import LogOut, LogOutCommand
from application.users.log_out_all import LogOutAll, LogOutAllCommand
from application.users.refresh_session import RefreshSession, RefreshSessionCommand
from application.users.revoke_session import RevokeSession, RevokeSessionCommand
from application.users.session_policy import ClientInfo
from entrypoints.config.settings import Settings
from entrypoints.http.auth import Actor
from entrypoints.http.openapi import WRITE_CONFLICT, described_by, error_responses
from entrypoints.http.rate_limits import EdgeRateLimits, auth_route
from entrypoints.http.schemas.users import (
    RefreshRequest,
    SessionItem,
    SessionsResponse,
    User,
    UserResponse,
)

REFRESH_COOKIE = "refresh_token"
COOKIE_PATH = "/api/auth"
DELIVERY_HEADER = "Refresh-Token-Delivery"
_OWN = auth_route(permission=Permission.MANAGE_OWN_ACCOUNT)
TOKEN_DELIVERY = (
    f"The session's refresh token comes as the httpOnly `{REFRESH_COOKIE}` cookie, sent only "
    f"to {COOKIE_PATH}, or instead as `refreshToken` in the user object when the request "
    f"sends `{DELIVERY_HEADER}: body`."
)
"""Where a sign-in's refresh token goes: `requested_delivery` and `signed_in`."""


_COOKIE_VALUE = re.compile(r"[A-Za-z0-9_.~-]*")


def refresh_cookie(token: str, max_age: int) -> dict[str, str]:
    """The ``Set-Cookie`` header: httpOnly, Secure, SameSite=Strict, sent only to /api/auth.

    Written directly rather than through `http.cookies.SimpleCookie`, which cost a
    twentieth of a sign-in's event-loop time; the value is checked to need no quoting.
    """
    if not _COOKIE_VALUE.fullmatch(token):
        raise ValueError("a refresh token is URL-safe text")
    return {
        "set-cookie": f"{REFRESH_COOKIE}={token}; HttpOnly; Max-Age={max_age}; "
        f"Path={COOKIE_PATH}; SameSite=Strict; Secure"
    }


class RefreshTokenDelivery(StrEnum):
    """Where a new refresh token goes: the httpOnly cookie, or `refreshToken` in the body."""

    COOKIE = "cookie"
    BODY = "body"


def requested_delivery(request: Request[Any, Any, Any]) -> RefreshTokenDelivery:
    """The body when a sign-in sends ``Refresh-Token-Delivery: body`` (any case); else the cookie.

    Any other value means the cookie rather than an error: it is read after the sign-in has
    opened its session, and the cookie is the delivery that exposes nothing.
    """
    value = request.headers.get(DELIVERY_HEADER, "")
    if value.strip().lower() == RefreshTokenDelivery.BODY:
        return RefreshTokenDelivery.BODY
    return RefreshTokenDelivery.COOKIE


def signed_in(
    result: AuthenticatedUser,
    settings: Settings,
    *,
    delivery: RefreshTokenDelivery,
    status_code: int = HTTP_200_OK,
) -> Response[UserResponse]:
    """The user object, and the session's refresh token where `delivery` says, only there.

    As a cookie, the token is out of reach of page scripts, which could otherwise read it
    from the body. In the body it is not also set as a cookie: a client that keeps the
    token itself has no use for a second copy.
    """
    token = result.refresh_token
    if token is None:
        raise RuntimeError("a sign-in, registration or refresh always carries a refresh token")
    if delivery is RefreshTokenDelivery.BODY:
        return Response(
            UserResponse(user=User.of(result, refresh_token=token)), status_code=status_code
        )
    return Response(
        UserResponse(user=User.of(result)),
        status_code=status_code,
        headers=refresh_cookie(token, settings.auth.refresh_token_ttl_seconds),
    )


def expired_refresh_cookie() -> dict[str, str]:
    """Tells the browser to forget the refresh cookie."""
    return refresh_cookie("", 0)


class SessionsController(Controller):
    """Refresh, log out, and manage one's sessions."""

    path = "/api/auth"
    tags = ["sessions"]  # noqa: RUF012 - Litestar reads this class attribute

    @post(
        "/refresh",
        status_code=HTTP_200_OK,
        opt=auth_route(),
        summary="Refresh",
        description=described_by(RefreshSession),
        response_description=(
            "The account, with a new access token. The new refresh token goes back the way "
            "the old one came: as `refreshToken` in the user object for a token sent in the "
            f"body, as the `{REFRESH_COOKIE}` cookie alone for one sent as the cookie, so a "
            "page script that calls refresh never sees the token its cookie holds."
        ),
        responses=error_responses(
            unauthorized="The refresh token is missing, unknown, expired or was reused.",
            forbidden="The account is banned.",
            conflict=WRITE_CONFLICT,
        ),
    )
    @inject
    async def refresh(
        self,
        request: Request[Any, Any, Any],
        refresh_session: FromDishka[RefreshSession],
        settings: FromDishka[Settings],
        limits: FromDishka[EdgeRateLimits],
        data: JSONBody[RefreshRequest | None] = None,
    ) -> Response[UserResponse]:
        token: str | None
        if data:
            token, delivery = data.refresh_token, RefreshTokenDelivery.BODY
        else:
            token, delivery = request.cookies.get(REFRESH_COOKIE), RefreshTokenDelivery.COOKIE
        if not token:
            raise AuthenticationRequiredError("is missing")
        client = ClientInfo(
            device=request.headers.get("user-agent", "unknown"),
            ip=limits.client_address.resolve(request),
        )
        result = await refresh_session(RefreshSessionCommand(refresh_token=token, client=client))
        return signed_in(result, settings, delivery=delivery)

    @post(
        "/logout",
        status_code=HTTP_204_NO_CONTENT,
        opt=_OWN,
        summary="Log out",
        description=described_by(LogOut),
        responses=error_responses(conflict=WRITE_CONFLICT),
    )
    @inject
    async def log_out(self, actor: Actor, log_out: FromDishka[LogOut]) -> Response[None]:
        await log_out(LogOutCommand(actor=actor))
        return Response(None, status_code=HTTP_204_NO_CONTENT, headers=expired_refresh_cookie())

    @post(
        "/logout-all",
        status_code=HTTP_204_NO_CONTENT,
        opt=_OWN,
        summary="Log out everywhere",
        description=described_by(LogOutAll),
        responses=error_responses(conflict=WRITE_CONFLICT),
    )
    @inject
    async def log_out_all(self, actor: Actor, log_out_all: FromDishka[LogOutAll]) -> Response[None]:
        await log_out_all(LogOutAllCommand(actor=actor))
        return Response(None, status_code=HTTP_204_NO_CONTENT, headers=expired_refresh_cookie())

    @get(
        "/sessions",
        opt=_OWN,
        summary="List sessions",
        description=described_by(ListSessions),
        responses=error_responses(),
    )
    @inject
    async def list_sessions(
        self, actor: Actor, list_sessions: FromDishka[ListSessions]
    ) -> SessionsResponse:
        views = await list_sessions(ListSessionsCommand(actor=actor))
        return SessionsResponse(
            sessions=[
                SessionItem(
                    id=str(v.id),
                    device=v.device,
                    ip=v.ip,
                    created_at=v.created_at.isoformat(),
                    last_used_at=v.last_used_at.isoformat(),
                    current=v.current,
                )
                for v in views
            ]
        )

    @delete(
        "/sessions/{session_id:uuid}",
        opt=_OWN,
        summary="Revoke a session",
        description=described_by(RevokeSession),
        responses=error_responses(
            not_found="None of the caller's sessions has this id.", conflict=WRITE_CONFLICT
        ),
    )
    @inject
    async def revoke_session(
        self,
        session_id: FromPath[UUID],
        actor: Actor,
        revoke_session: FromDishka[RevokeSession],
    ) -> None:
        await revoke_session(RevokeSessionCommand(actor=actor, session_id=session_id))
