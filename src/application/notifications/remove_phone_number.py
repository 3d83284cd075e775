"""Use case: forget the caller's phone number."""

from application.audit.capture import audited
from application.common.ports.unit_of_work import UnitOfWork
from application.notifications.ports import PhoneVerificationRepository
from domain.users.values import UserId


@audited("phone.remove", target="phone", target_id=lambda user_id: user_id)
class RemovePhoneNumber:
    """Forget the number; no more texts go out. Forgetting twice is harmless."""

    def __init__(self, uow: UnitOfWork, phones: PhoneVerificationRepository) -> None:
        self._uow = uow
        self._phones = phones

    async def __call__(self, user_id: UserId) -> bool:
        """Whether there was a number."""
        async with self._uow:
            removed = await self._phones.remove(user_id)
            await self._uow.commit()
        return removed
