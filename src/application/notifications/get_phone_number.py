"""Use case: the caller's phone number and whether it is verified."""

from application.notifications.ports import PhoneVerificationRepository
from application.notifications.set_phone_number import PhoneNumberState
from domain.users.values import UserId


class GetPhoneNumber:
    """Read the caller's number, masked, and whether it is verified; nothing if none was given."""

    def __init__(self, phones: PhoneVerificationRepository) -> None:
        self._phones = phones

    async def __call__(self, user_id: UserId) -> PhoneNumberState | None:
        """The number's state."""
        verification = await self._phones.get(user_id)
        if verification is None:
            return None
        return PhoneNumberState(
            number=verification.number.masked(), verified=verification.is_verified
        )
