"""Account administration over HTTP, for administrators: roles and bans."""

from typing import Annotated

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, delete, post, put
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT
from msgspec import Meta

from application.common.permissions import Permission
from application.users.ban_user import BanUser, BanUserCommand
from application.users.set_role import SetRole, SetRoleCommand
from application.users.unban_user import UnbanUser, UnbanUserCommand
from domain.users.values import Role
from entrypoints.http.auth import requires
from entrypoints.http.openapi import WRITE_CONFLICT, described_by, error_responses

_ON_A_USER = error_responses(not_found="No user has this username.", conflict=WRITE_CONFLICT)


class RoleChange(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``{"role": "user" | "moderator" | "admin"}``."""

    role: Role


class BanRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``{"reason": "..."}``, kept with the ban."""

    reason: Annotated[str, Meta(min_length=1, max_length=500)] = "banned by an administrator"


class AdminUsersController(Controller):
    """Roles and bans; every route needs the `users:manage` permission (administrators)."""

    path = "/api/admin/users/{username:str}"
    tags = ["administration"]  # noqa: RUF012 - Litestar reads this class attribute
    opt = requires(Permission.MANAGE_USERS)

    @put(
        "/role",
        status_code=HTTP_204_NO_CONTENT,
        summary="Set a user's role",
        description=described_by(SetRole),
        responses=_ON_A_USER,
    )
    @inject
    async def set_role(
        self, username: FromPath[str], data: JSONBody[RoleChange], set_role: FromDishka[SetRole]
    ) -> None:
        await set_role(SetRoleCommand(username=username, role=data.role))

    @post(
        "/ban",
        status_code=HTTP_204_NO_CONTENT,
        summary="Ban a user",
        description=described_by(BanUser),
        responses=_ON_A_USER,
    )
    @inject
    async def ban(
        self,
        username: FromPath[str],
        ban_user: FromDishka[BanUser],
        data: JSONBody[BanRequest | None] = None,
    ) -> None:
        reason = data.reason if data else BanRequest().reason
        await ban_user(BanUserCommand(username=username, reason=reason))

    @delete(
        "/ban",
        status_code=HTTP_204_NO_CONTENT,
        summary="Lift a ban",
        description=described_by(UnbanUser),
        responses=_ON_A_USER,
    )
    @inject
    async def unban(self, username: FromPath[str], unban_user: FromDishka[UnbanUser]) -> None:
        await unban_user(UnbanUserCommand(username=username))
