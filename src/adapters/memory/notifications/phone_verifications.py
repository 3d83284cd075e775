"""The `PhoneVerificationRepository` port in memory: one copy per user."""

import copy

from adapters.memory.database import InMemoryDatabase
from application.notifications.ports import PhoneVerificationRepository
from domain.notifications.phone import PhoneVerification
from domain.users.values import UserId

PHONE_NUMBERS = "phone_numbers"


class InMemoryPhoneVerificationRepository(PhoneVerificationRepository):
    """The `PhoneVerificationRepository` port: one copy per user."""

    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database

    @property
    def _rows(self) -> dict[UserId, PhoneVerification]:
        return self._database.table(PHONE_NUMBERS)

    async def get(
        self,
        user_id: UserId,
        *,
        for_update: bool = False,  # noqa: ARG002 - the unit of work already serializes
    ) -> PhoneVerification | None:
        """A copy of the user's number and its state (the unit of work already serializes)."""
        row = self._rows.get(user_id)
        return copy.copy(row) if row else None

    async def save(self, verification: PhoneVerification) -> None:
        """Store a copy, replacing any earlier one."""
        self._rows[verification.user_id] = copy.copy(verification)

    async def remove(self, user_id: UserId) -> bool:
        """Forget the user's number; False if there was none."""
        return self._rows.pop(user_id, None) is not None
