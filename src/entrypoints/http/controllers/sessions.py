"""Sessions: refresh-token rotation, logout, and the list of one's sessions, under /api/auth."""

import re
from typing import Any
from uuid import UUID

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Request, Response, delete, get, post
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from application.common.errors import AuthenticationRequiredError
from application.common.permissions import Permission
from application.identity.authenticated_user import AuthenticatedUser
from application.identity.list_sessions import ListSessions, ListSessionsCommand
from application.identity.log_out import LogOut, LogOutCommand
from application.identity.log_out_all import LogOutAll, LogOutAllCommand
from application.identity.refresh_session import RefreshSession, RefreshSessionCommand
from application.identity.revoke_session import RevokeSession, RevokeSessionCommand
from entrypoints.config.settings import Settings
from entrypoints.http.auth import required_identity
from entrypoints.http.rate_limits import auth_route
from entrypoints.http.schemas.users import (
    RefreshRequest,
    SessionItem,
    SessionsResponse,
    User,
    UserResponse,
)

REFRESH_COOKIE = "refresh_token"
COOKIE_PATH = "/api/auth"
_OWN = auth_route(permission=Permission.MANAGE_OWN_ACCOUNT)


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


def signed_in(
    result: AuthenticatedUser, settings: Settings, *, status_code: int = HTTP_200_OK
) -> Response[UserResponse]:
    """The user object, and the session's refresh token set as its cookie."""
    if result.refresh_token is None:
        raise RuntimeError("a sign-in, registration or refresh always carries a refresh token")
    return Response(
        UserResponse(user=User.of(result)),
        status_code=status_code,
        headers=refresh_cookie(result.refresh_token, settings.auth.refresh_token_ttl_seconds),
    )


def expired_refresh_cookie() -> dict[str, str]:
    """Tells the browser to forget the refresh cookie."""
    return refresh_cookie("", 0)


class SessionsController(Controller):
    """Refresh, log out, and manage one's sessions."""

    path = "/api/auth"
    tags = ["sessions"]  # noqa: RUF012 - Litestar reads this class attribute

    @post("/refresh", status_code=HTTP_200_OK, opt=auth_route(), summary="Refresh")
    @inject
    async def refresh(
        self,
        request: Request[Any, Any, Any],
        refresh_session: FromDishka[RefreshSession],
        settings: FromDishka[Settings],
        data: JSONBody[RefreshRequest | None] = None,
    ) -> Response[UserResponse]:
        """Rotate the refresh token (cookie or body); a reused one revokes its session."""
        token = data.refresh_token if data else request.cookies.get(REFRESH_COOKIE)
        if not token:
            raise AuthenticationRequiredError("is missing")
        return signed_in(
            await refresh_session(RefreshSessionCommand(refresh_token=token)), settings
        )

    @post("/logout", status_code=HTTP_204_NO_CONTENT, opt=_OWN, summary="Log out")
    @inject
    async def log_out(
        self, request: Request[Any, Any, Any], log_out: FromDishka[LogOut]
    ) -> Response[None]:
        """End this session."""
        await log_out(LogOutCommand(actor=required_identity(request)))
        return Response(None, status_code=HTTP_204_NO_CONTENT, headers=expired_refresh_cookie())

    @post("/logout-all", status_code=HTTP_204_NO_CONTENT, opt=_OWN, summary="Log out everywhere")
    @inject
    async def log_out_all(
        self, request: Request[Any, Any, Any], log_out_all: FromDishka[LogOutAll]
    ) -> Response[None]:
        """End every session of the caller."""
        await log_out_all(LogOutAllCommand(actor=required_identity(request)))
        return Response(None, status_code=HTTP_204_NO_CONTENT, headers=expired_refresh_cookie())

    @get("/sessions", opt=_OWN, summary="List sessions")
    @inject
    async def list_sessions(
        self, request: Request[Any, Any, Any], list_sessions: FromDishka[ListSessions]
    ) -> SessionsResponse:
        """The caller's active sessions: device, IP, when opened and last used."""
        views = await list_sessions(ListSessionsCommand(actor=required_identity(request)))
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

    @delete("/sessions/{session_id:uuid}", opt=_OWN, summary="Revoke a session")
    @inject
    async def revoke_session(
        self,
        session_id: FromPath[UUID],
        request: Request[Any, Any, Any],
        revoke_session: FromDishka[RevokeSession],
    ) -> None:
        """End one session; another user's id answers 404."""
        await revoke_session(
            RevokeSessionCommand(actor=required_identity(request), session_id=session_id)
        )
