"""Use case: ban a user, or lift the ban (operators, from the CLI)."""

from dataclasses import dataclass

from application.common.errors import NotFoundError
from application.ports.persistence import SessionRepository, UnitOfWork, UserRepository
from application.ports.system import Clock


@dataclass(frozen=True, slots=True, kw_only=True)
class BanUserCommand:
    """Whom to ban, or unban when `banned` is False, and why."""

    username: str
    banned: bool = True
    reason: str = "banned by an operator"


class BanUser:
    """Ban or unban.

    Rules:
    - A banned user cannot sign in or refresh; every session they have is revoked at once.
    - Banning twice, or unbanning someone not banned, changes nothing.
    """

    def __init__(
        self, uow: UnitOfWork, users: UserRepository, sessions: SessionRepository, clock: Clock
    ) -> None:
        self._uow = uow
        self._users = users
        self._sessions = sessions
        self._clock = clock

    async def __call__(self, command: BanUserCommand) -> None:
        """Apply the ban and end the sessions, in one transaction."""
        now = self._clock.now()
        async with self._uow:
            user = await self._users.get_by_username(command.username)
            if user is None:
                raise NotFoundError("not found", field="user")
            if command.banned:
                user.ban(now=now, reason=command.reason)
                await self._sessions.revoke_all_for_user(user.id, at=now, reason="user banned")
            else:
                user.unban(now=now)
            await self._users.save(user)
            self._uow.track(user)
            await self._uow.commit()
