"""Use case: record a refusal made at the edge, before any use case ran."""

from dataclasses import dataclass

from application.audit.context import actor_now, client_now
from application.common.correlation import current_request_id
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from domain.audit.entry import AuditRecord, Outcome


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordDenialCommand:
    """What was refused: the action asked for, its target, and why."""

    action: str
    target_type: str
    target_id: str | None
    reason: str


class RecordDenial:
    """Write a denied entry, in a transaction of its own, for a refusal at the edge.

    Such as the HTTP guard's: a missing permission, a rate-limited sign-in.

    The actor and client are the ones the edge set for this request.
    """

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, command: RecordDenialCommand) -> None:
        """Write the entry now."""
        client = client_now()
        await self._uow.record_refusal(
            AuditRecord(
                occurred_at=self._clock.now(),
                actor=actor_now(),
                action=command.action,
                target_type=command.target_type,
                target_id=command.target_id,
                outcome=Outcome.DENIED,
                reason=command.reason,
                request_id=current_request_id.get(),
                client_ip=client.ip,
                user_agent=client.user_agent,
            )
        )
