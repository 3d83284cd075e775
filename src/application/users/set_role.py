"""Use case: change a user's role (operators, from the CLI)."""

from dataclasses import dataclass

from application.audit.capture import audited, identify_target
from application.common.errors import NotFoundError
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from application.users.ports import UserRepository
from domain.users.values import Role


@dataclass(frozen=True, slots=True, kw_only=True)
class SetRoleCommand:
    """Whose role, and the new one."""

    username: str
    role: Role


@audited("user.role_change", target="user")
class SetRole:
    """Assign a role.

    Rules:
    - The user must exist (`NotFoundError`).
    - It is live on the user's next request: each authenticated request reads the role.
    - Assigning the role the user already has changes nothing and records no event.
    """

    def __init__(self, uow: UnitOfWork, users: UserRepository, clock: Clock) -> None:
        self._uow = uow
        self._users = users
        self._clock = clock

    async def __call__(self, command: SetRoleCommand) -> None:
        """Store the new role."""
        async with self._uow:
            user = await self._users.get_by_username(command.username, for_update=True)
            if user is None:
                raise NotFoundError("not found", field="user")
            identify_target(user.id)
            user.assign_role(command.role, now=self._clock.now())
            if not user.has_pending_events:
                return
            await self._users.save(user)
            self._uow.track(user)
            await self._uow.commit()
