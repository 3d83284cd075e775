"""Use case: create an administrator account (operators, from the CLI)."""

from dataclasses import dataclass, field

from application.common.ports.clock import Clock
from application.common.ports.ids import IdGenerator
from application.common.ports.unit_of_work import UnitOfWork
from application.users.new_account import open_account
from application.users.ports import PasswordHasher, UserRepository
from domain.users.values import Role, UserId


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateAdminCommand:
    """The new administrator's username, email and password."""

    username: str
    email: str
    password: str = field(repr=False)


class CreateAdmin:
    """Register an account with the `admin` role.

    Rules:
    - The same username, email and password rules as any registration apply.
    - Both `UserRegistered` and `UserRoleChanged` are written, so the audit trail shows
      that the account was made an administrator.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        users: UserRepository,
        hasher: PasswordHasher,
        clock: Clock,
        ids: IdGenerator,
    ) -> None:
        self._uow = uow
        self._users = users
        self._hasher = hasher
        self._clock = clock
        self._ids = ids

    async def __call__(self, command: CreateAdminCommand) -> UserId:
        """Create the account and return its id."""
        async with self._uow:
            user = await open_account(
                username=command.username,
                email=command.email,
                password=command.password,
                users=self._users,
                hasher=self._hasher,
                clock=self._clock,
                ids=self._ids,
                role=Role.ADMIN,
            )
            self._uow.track(user)
            await self._uow.commit()
        return user.id
