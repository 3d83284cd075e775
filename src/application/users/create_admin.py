"""Use case: create an administrator account (operators, from the CLI)."""

from dataclasses import dataclass, field

from application.audit.capture import audited
from application.common.ports.unit_of_work import UnitOfWork
from application.users.account_opener import AccountOpener
from domain.users.values import Role, UserId


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateAdminCommand:
    """The new administrator's username, email and password."""

    username: str
    email: str
    password: str = field(repr=False)


@audited("user.create_admin", target="user")
class CreateAdmin:
    """Register an account with the `admin` role.

    Rules:
    - The same username, email and password rules as any registration apply.
    - Both `UserRegistered` and `UserRoleChanged` are written, so the audit trail shows
      that the account was made an administrator.
    """

    def __init__(self, *, uow: UnitOfWork, account_opener: AccountOpener) -> None:
        self._uow = uow
        self._account_opener = account_opener

    async def __call__(self, command: CreateAdminCommand) -> UserId:
        """Create the account and return its id."""
        async with self._uow:
            user = await self._account_opener.open(
                username=command.username,
                email=command.email,
                password=command.password,
                role=Role.ADMIN,
            )
            self._uow.track(user)
            await self._uow.commit()
        return user.id
