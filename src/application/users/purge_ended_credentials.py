"""Use case: delete sessions and one-time tokens that can no longer be used."""

from dataclasses import dataclass
from datetime import timedelta

from application.audit.capture import audited
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from application.users.ports import OneTimeTokenRepository, SessionRepository

PURGE_ENDED_CREDENTIALS = "purge_ended_credentials"
"""The periodic job's name."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PurgeReport:
    """How many of each went."""

    sessions: int
    tokens: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PurgeEndedCredentialsCommand:
    """Keep ended ones for `grace`, so a reused refresh token is still recognized a while."""

    grace: timedelta


@audited("session.purge", target="session")
class PurgeEndedCredentials:
    """Delete sessions that expired or were revoked, and tokens expired or used, long enough ago.

    Within the grace period an ended session still answers a replayed refresh token as
    "reused" (and revokes its family) rather than "unknown".
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        sessions: SessionRepository,
        tokens: OneTimeTokenRepository,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._sessions = sessions
        self._tokens = tokens
        self._clock = clock

    async def __call__(self, command: PurgeEndedCredentialsCommand) -> PurgeReport:
        """Purge both in one transaction."""
        before = self._clock.now() - command.grace
        async with self._uow:
            sessions = await self._sessions.purge_ended(before=before)
            tokens = await self._tokens.purge_ended(before=before)
            await self._uow.commit()
        return PurgeReport(sessions=sessions, tokens=tokens)
