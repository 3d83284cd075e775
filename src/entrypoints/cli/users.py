"""`portico users`: administrators, roles and bans, for operators."""

import sys
from typing import Annotated, TypeVar

import typer
from dishka import AsyncContainer

from application.users.ban_user import BanUser, BanUserCommand
from application.users.create_admin import CreateAdmin, CreateAdminCommand
from application.users.set_role import SetRole, SetRoleCommand
from domain.users.values import Role
from entrypoints.cli.common import fail, run_in_request_scope
from entrypoints.cli.exit_codes import ExitCode

users_app = typer.Typer(help="Manage accounts: administrators, roles, bans.", no_args_is_help=True)
T = TypeVar("T")


def _read_password(password_stdin: bool) -> str:  # noqa: FBT001 - mirrors the flag
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
        if not password:
            fail("no password on standard input", ExitCode.CONFIGURATION)
        return password
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(help="The administrator's email.")],
    username: Annotated[str, typer.Option(help="The administrator's username.")],
    password_stdin: Annotated[  # noqa: FBT002 - typer declares flags as boolean defaults
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create an administrator; prompts for the password unless --password-stdin."""
    password = _read_password(password_stdin)

    async def action(request: AsyncContainer) -> None:
        use_case = await request.get(CreateAdmin)
        await use_case(CreateAdminCommand(username=username, email=email, password=password))

    run_in_request_scope(action)
    typer.echo(f"administrator {username} created")


@users_app.command("set-role")
def set_role(
    username: Annotated[str, typer.Argument(help="Whose role to change.")],
    role: Annotated[Role, typer.Argument(help="user, moderator or admin.")],
) -> None:
    """Give a user another role."""

    async def action(request: AsyncContainer) -> None:
        await (await request.get(SetRole))(SetRoleCommand(username=username, role=role))

    run_in_request_scope(action)
    typer.echo(f"{username} is now {role.value}")


@users_app.command("ban")
def ban(
    username: Annotated[str, typer.Argument(help="Whom to ban.")],
    reason: Annotated[
        str, typer.Option(help="Kept with the ban, for the record.")
    ] = "banned by an operator",
) -> None:
    """Ban a user: no sign-in, no refresh, every session ended."""

    async def action(request: AsyncContainer) -> None:
        await (await request.get(BanUser))(BanUserCommand(username=username, reason=reason))

    run_in_request_scope(action)
    typer.echo(f"{username} is banned")


@users_app.command("unban")
def unban(username: Annotated[str, typer.Argument(help="Whose ban to lift.")]) -> None:
    """Lift a ban."""

    async def action(request: AsyncContainer) -> None:
        await (await request.get(BanUser))(BanUserCommand(username=username, banned=False))

    run_in_request_scope(action)
    typer.echo(f"{username} is no longer banned")
