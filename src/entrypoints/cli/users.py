"""`portico users`: administrators, roles and bans, for operators."""

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from entrypoints.cli.exit_codes import ExitCode
from entrypoints.cli.tree import command_group, fail

if TYPE_CHECKING:
    from dishka import AsyncContainer

users_app = command_group("Manage accounts: administrators, roles, bans.")


def _read_password(password_stdin: bool) -> str:  # noqa: FBT001 - mirrors the flag
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n") if sys.stdin is not None else ""
        if not password:
            fail(
                "no password on standard input; pipe one line holding it in, "
                "or leave out --password-stdin to be prompted",
                ExitCode.CONFIGURATION,
            )
        return password
    if sys.stdin is None or not sys.stdin.isatty():
        fail(
            "no terminal to prompt for the password; "
            "pipe it in with --password-stdin (one line on standard input)",
            ExitCode.CONFIGURATION,
        )
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(metavar="EMAIL", help="The administrator's email.")],
    username: Annotated[str, typer.Option(metavar="NAME", help="The administrator's username.")],
    password_stdin: Annotated[  # noqa: FBT002 - typer declares flags as boolean defaults
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create an administrator; prompts for the password unless --password-stdin."""
    from application.users.create_admin import CreateAdmin, CreateAdminCommand
    from entrypoints.cli.common import run_in_request_scope

    password = _read_password(password_stdin)

    async def action(request: "AsyncContainer") -> None:
        use_case = await request.get(CreateAdmin)
        await use_case(CreateAdminCommand(username=username, email=email, password=password))

    run_in_request_scope(action)
    typer.echo(f"administrator {username} created")


@users_app.command("set-role")
def set_role(
    username: Annotated[str, typer.Argument(metavar="USERNAME", help="Whose role to change.")],
    role_name: Annotated[
        str, typer.Argument(metavar="ROLE", help="user, moderator or admin.", show_default=False)
    ],
) -> None:
    """Give a user another role."""
    from application.users.set_role import SetRole, SetRoleCommand
    from domain.users.values import Role
    from entrypoints.cli.common import run_in_request_scope

    try:
        role = Role(role_name)
    except ValueError:
        roles = ", ".join(f"'{member.value}'" for member in Role)
        raise typer.BadParameter(
            f"{role_name!r} is not a role; use one of {roles}", param_hint="'ROLE'"
        ) from None

    async def action(request: "AsyncContainer") -> None:
        await (await request.get(SetRole))(SetRoleCommand(username=username, role=role))

    run_in_request_scope(action)
    typer.echo(f"{username} is now {role.value}")


@users_app.command("ban")
def ban(
    username: Annotated[str, typer.Argument(metavar="USERNAME", help="Whom to ban.")],
    reason: Annotated[
        str, typer.Option(metavar="REASON", help="Kept with the ban, for the record.")
    ] = "banned by an operator",
) -> None:
    """Ban a user: no sign-in, no refresh, every session ended."""
    from application.users.ban_user import BanUser, BanUserCommand
    from entrypoints.cli.common import run_in_request_scope

    async def action(request: "AsyncContainer") -> None:
        await (await request.get(BanUser))(BanUserCommand(username=username, reason=reason))

    run_in_request_scope(action)
    typer.echo(f"{username} is banned")


@users_app.command("unban")
def unban(
    username: Annotated[str, typer.Argument(metavar="USERNAME", help="Whose ban to lift.")],
) -> None:
    """Lift a ban."""
    from application.users.unban_user import UnbanUser, UnbanUserCommand
    from entrypoints.cli.common import run_in_request_scope

    async def action(request: "AsyncContainer") -> None:
        await (await request.get(UnbanUser))(UnbanUserCommand(username=username))

    run_in_request_scope(action)
    typer.echo(f"{username} is no longer banned")
