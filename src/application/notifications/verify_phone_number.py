"""Use case: prove a phone number with the code it received."""

from dataclasses import dataclass, field

from application.audit.capture import audited
from application.common.errors import NotFoundError
from application.common.ports.clock import Clock
from application.common.ports.opaque_tokens import OpaqueTokens
from application.common.ports.unit_of_work import UnitOfWork
from application.notifications.ports import PhoneVerificationRepository
from application.notifications.set_phone_number import PhoneNumberState
from application.users.ports import UserRepository
from application.users.security_notices import SecurityNotices
from domain.notifications.phone import PhoneCodeError
from domain.users.values import UserId


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyPhoneNumberCommand:
    """Whose number, and the code as typed."""

    user_id: UserId
    code: str = field(repr=False)


@audited("phone.verify", target="phone", target_id=lambda command: command.user_id)
class VerifyPhoneNumber:
    """Mark the number verified when the code matches.

    Rules:
    - No number given yet: `NotFoundError` keyed ``phone``.
    - A wrong, expired or used-up code is `PhoneCodeError` keyed ``code``. A wrong code
      counts against the code's five attempts, and that count is kept even though the call
      fails (its audit entry records the refusal); after the fifth, or once expired, a new
      code is needed.
    - A number that becomes verified is a security change: the account's address is told,
      in a notice built in this transaction, since text messages about the account go to
      that number from now on.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        phones: PhoneVerificationRepository,
        secrets: OpaqueTokens,
        clock: Clock,
        users: UserRepository,
        notices: SecurityNotices,
    ) -> None:
        self._uow = uow
        self._phones = phones
        self._secrets = secrets
        self._clock = clock
        self._users = users
        self._notices = notices

    async def __call__(self, command: VerifyPhoneNumberCommand) -> PhoneNumberState:
        """The number, now verified."""
        presented = self._secrets.fingerprint(command.code.strip())
        async with self._uow:
            verification = await self._phones.get(command.user_id, for_update=True)
            if verification is None:
                raise NotFoundError("not found", field="phone")
            was_verified = verification.is_verified
            now = self._clock.now()
            try:
                verification.verify(presented, now=now)
            except PhoneCodeError as refused:
                await self._phones.save(verification)
                await self._uow.commit(refusing=refused)
                raise
            await self._phones.save(verification)
            owner = await self._users.get(command.user_id)
            if owner is not None and not was_verified:
                self._notices.phone_number_changed(
                    self._uow, owner, number=verification.number.value, at=now
                )
            await self._uow.commit()
        return PhoneNumberState(number=verification.number.masked(), verified=True)
