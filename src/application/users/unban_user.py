"""Use case: lift a user's ban (operators, from the CLI or the admin API)."""

from dataclasses import dataclass

from application.audit.capture import audited, identify_target
from application.common.errors import NotFoundError
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from application.users.ports import UserRepository


@dataclass(frozen=True, slots=True, kw_only=True)
class UnbanUserCommand:
    """Whose ban to lift."""

    username: str


@audited("user.unban", target="user")
class UnbanUser:
    """Lift a ban.

    Rules:
    - The user must exist (`NotFoundError`).
    - A user whose ban is lifted may sign in again; the sessions the ban ended stay ended.
    - Unbanning someone not banned changes nothing and records no event, even when two
      operators race: the account is locked from read to commit.
    """

    def __init__(self, uow: UnitOfWork, users: UserRepository, clock: Clock) -> None:
        self._uow = uow
        self._users = users
        self._clock = clock

    async def __call__(self, command: UnbanUserCommand) -> None:
        """Lift the ban."""
        async with self._uow:
            user = await self._users.get_by_username(command.username, for_update=True)
            if user is None:
                raise NotFoundError("not found", field="user")
            identify_target(user.id)
            user.unban(now=self._clock.now())
            if not user.has_pending_events:
                return
            await self._users.save(user)
            self._uow.track(user)
            await self._uow.commit()
