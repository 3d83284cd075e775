"""Use case: end every session of the caller."""

from dataclasses import dataclass

from application.common.identity import Identity
from application.ports.persistence import SessionRepository, UnitOfWork
from application.ports.system import Clock


@dataclass(frozen=True, slots=True, kw_only=True)
class LogOutAllCommand:
    """The caller."""

    actor: Identity


class LogOutAll:
    """Revoke all of the caller's sessions, on every device, this one included.

    Rules:
    - Returns how many sessions were still active.
    """

    def __init__(self, uow: UnitOfWork, sessions: SessionRepository, clock: Clock) -> None:
        self._uow = uow
        self._sessions = sessions
        self._clock = clock

    async def __call__(self, command: LogOutAllCommand) -> int:
        """Revoke them in one statement."""
        async with self._uow:
            revoked = await self._sessions.revoke_all_for_user(
                command.actor.user_id, at=self._clock.now(), reason="logout everywhere"
            )
            await self._uow.commit()
        return revoked
