"""RealWorld authentication and the caller's own account: /api/users, /api/user."""

from typing import Any

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Request, Response, get, post, put
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from msgspec import UNSET

from application.common.permissions import Permission
from application.common.unchanged import UNCHANGED
from application.users.get_current_user import GetCurrentUser, GetCurrentUserCommand
from application.users.log_in import LogIn, LogInCommand
from application.users.register_user import RegisterUser, RegisterUserCommand
from application.users.session_policy import ClientInfo
from application.users.update_user import UpdateUser, UpdateUserCommand
from entrypoints.config.settings import Settings
from entrypoints.http.auth import Actor, presented_token, requires
from entrypoints.http.controllers.sessions import (
    TOKEN_DELIVERY,
    requested_delivery,
    signed_in,
)
from entrypoints.http.device_cookie import DEVICE_COOKIE, device_cookie
from entrypoints.http.edge_denials import AuditedAs
from entrypoints.http.openapi import WRITE_CONFLICT, described_by, error_responses
from entrypoints.http.rate_limits import EdgeRateLimits, auth_route, registration_route
from entrypoints.http.schemas.users import (
    LoginUserRequest,
    NewUserRequest,
    UpdateUserRequest,
    User,
    UserResponse,
)

SIGNED_IN = (
    f"Signed in: the account, with an access token. {TOKEN_DELIVERY} A device cookie "
    f"`{DEVICE_COOKIE}` comes too; sent back when signing in, it exempts this client from "
    "other clients' failed attempts on the account."
)
"""What registering and signing in answer, besides what their use cases say."""
SIGNING_IN = AuditedAs("user.login", target_type="user")
"""A sign-in refused over the per-IP limit is audited as the sign-in it stopped."""


def client_info(request: Request[Any, Any, Any], limits: EdgeRateLimits) -> ClientInfo:
    """The device and address a sign-in comes from, as the session list shows them."""
    return ClientInfo(
        device=request.headers.get("user-agent", "unknown"),
        ip=limits.client_address.resolve(request),
    )


class UsersController(Controller):
    """Register, sign in, and read or change one's own account."""

    path = "/api"
    tags = ["users"]  # noqa: RUF012 - Litestar reads this class attribute

    @post(
        "/users",
        status_code=HTTP_201_CREATED,
        opt=registration_route(),
        summary="Register",
        description=described_by(RegisterUser),
        response_description=SIGNED_IN,
        responses=error_responses(
            conflict=f"The username or the email is already taken. {WRITE_CONFLICT}"
        ),
    )
    @inject
    async def register(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[NewUserRequest],
        register_user: FromDishka[RegisterUser],
        settings: FromDishka[Settings],
        limits: FromDishka[EdgeRateLimits],
    ) -> Response[UserResponse]:
        user = data.user
        result = await register_user(
            RegisterUserCommand(
                username=user.username,
                email=user.email,
                password=user.password,
                client=client_info(request, limits),
            )
        )
        response = signed_in(
            result, settings, delivery=requested_delivery(request), status_code=HTTP_201_CREATED
        )
        response.cookies.append(
            device_cookie(result.device_token, settings.rate_limit.login_device_ttl_seconds)
        )
        return response

    @post(
        "/users/login",
        status_code=HTTP_200_OK,
        opt=auth_route(audited_as=SIGNING_IN),
        summary="Log in",
        description=described_by(LogIn),
        response_description=SIGNED_IN,
        responses=error_responses(
            unauthorized="The email and the password do not match an account.",
            forbidden="The account is banned.",
            conflict=WRITE_CONFLICT,
            too_many_requests="Too many failed sign-ins on this account from this client.",
            unavailable="The sign-in limiter's store is unreachable and it fails closed.",
        ),
    )
    @inject
    async def log_in(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[LoginUserRequest],
        log_in: FromDishka[LogIn],
        settings: FromDishka[Settings],
        limits: FromDishka[EdgeRateLimits],
    ) -> Response[UserResponse]:
        result = await log_in(
            LogInCommand(
                email=data.user.email,
                password=data.user.password,
                client=client_info(request, limits),
                device_token=request.cookies.get(DEVICE_COOKIE),
            )
        )
        response = signed_in(result, settings, delivery=requested_delivery(request))
        response.cookies.append(
            device_cookie(result.device_token, settings.rate_limit.login_device_ttl_seconds)
        )
        return response

    @get(
        "/user",
        opt=requires(Permission.MANAGE_OWN_ACCOUNT),
        summary="Current user",
        description=described_by(GetCurrentUser),
        responses=error_responses(),
    )
    @inject
    async def current_user(
        self,
        actor: Actor,
        request: Request[Any, Any, Any],
        get_current_user: FromDishka[GetCurrentUser],
    ) -> UserResponse:
        result = await get_current_user(
            GetCurrentUserCommand(actor=actor, access_token=presented_token(request))
        )
        return UserResponse(user=User.of(result))

    @put(
        "/user",
        opt=auth_route(permission=Permission.MANAGE_OWN_ACCOUNT),
        summary="Update user",
        description=described_by(UpdateUser),
        responses=error_responses(
            forbidden="A new email or password needs `currentPassword`, missing or wrong.",
            conflict=f"The new username or email is already taken. {WRITE_CONFLICT}",
            too_many_requests="Too many wrong `currentPassword` attempts.",
        ),
    )
    @inject
    async def update_user(
        self,
        actor: Actor,
        request: Request[Any, Any, Any],
        data: JSONBody[UpdateUserRequest],
        update_user: FromDishka[UpdateUser],
    ) -> UserResponse:
        changes = data.user
        command = UpdateUserCommand(
            actor=actor,
            access_token=presented_token(request),
            current_password=(
                None if changes.current_password is UNSET else changes.current_password
            ),
            username=UNCHANGED if changes.username is UNSET else changes.username,
            email=UNCHANGED if changes.email is UNSET else changes.email,
            password=UNCHANGED if changes.password is UNSET else changes.password,
            bio=UNCHANGED if changes.bio is UNSET else changes.bio,
            image=UNCHANGED if changes.image is UNSET else changes.image,
        )
        return UserResponse(user=User.of(await update_user(command)))
