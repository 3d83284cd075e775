"""Use case: give a phone number, and get a code by SMS to prove it."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from application.common.errors import DependencyUnavailableError, TooManyRequestsError
from application.notifications.send_templated_sms import (
    SEND_TEMPLATED_SMS,
    SendTemplatedSmsCommand,
)
from application.ports.messaging import TaskQueue
from application.ports.notifications import PhoneVerificationRepository
from application.ports.persistence import UnitOfWork
from application.ports.security import (
    RateLimit,
    RateLimiter,
    RateLimiterUnavailableError,
    SecretTokens,
)
from application.ports.system import Clock
from domain.notifications.phone import PhoneNumber, PhoneVerification
from domain.users.values import UserId

_log = logging.getLogger(__name__)

CODE_DIGITS = 6
PHONE_CODE_TEMPLATE = "sms/phone_code"


@dataclass(frozen=True, slots=True, kw_only=True)
class PhoneCodePolicy:
    """How long a code lives, and how many codes a user may request per window."""

    ttl: timedelta
    sends: RateLimit
    app_name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SetPhoneNumberCommand:
    """Whose number, as typed."""

    user_id: UserId
    phone: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PhoneNumberState:
    """The number (masked) and whether it is verified."""

    number: str
    verified: bool


class SetPhoneNumber:
    """Store the number unverified and text it a six-digit code.

    Rules:
    - The number must be in international (E.164) form; 422 otherwise.
    - The same number again sends a new code (a resend); a different one replaces the old
      number and its verification. The same verified number again changes nothing.
    - Codes per user, and per number whoever asks, are limited (429): each costs a text
      message, and nobody may flood a stranger's phone; when the limiter is down, no code
      is sent (503) rather than sending without a limit.
    - The code is stored hashed, expires, and is sent after the commit; when it cannot be
      handed to the queue the caller gets 503 rather than waiting for a text that will
      never come.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        phones: PhoneVerificationRepository,
        secrets: SecretTokens,
        limiter: RateLimiter,
        queue: TaskQueue,
        clock: Clock,
        policy: PhoneCodePolicy,
    ) -> None:
        self._uow = uow
        self._phones = phones
        self._secrets = secrets
        self._limiter = limiter
        self._queue = queue
        self._clock = clock
        self._policy = policy

    async def __call__(self, command: SetPhoneNumberCommand) -> PhoneNumberState:
        """The number as now stored."""
        number = PhoneNumber.parse(command.phone)
        async with self._uow:
            current = await self._phones.get(command.user_id, for_update=True)
            if current is not None and current.number == number and current.is_verified:
                return PhoneNumberState(number=number.masked(), verified=True)
            await self._throttle(f"phone-codes:{command.user_id}")
            await self._throttle(f"phone-codes-to:{number.value}")
            code = self._secrets.new_code(CODE_DIGITS)
            code_hash = self._secrets.fingerprint(code)
            expires_at = self._clock.now() + self._policy.ttl
            if current is not None and current.number == number:
                current.new_code(code_hash=code_hash, expires_at=expires_at)
                verification = current
            else:
                verification = PhoneVerification.start(
                    command.user_id, number, code_hash=code_hash, expires_at=expires_at
                )
            await self._phones.save(verification)
            sms = SendTemplatedSmsCommand(
                to=number.value,
                template=PHONE_CODE_TEMPLATE,
                context={
                    "code": code,
                    "app_name": self._policy.app_name,
                    "minutes": str(int(self._policy.ttl.total_seconds() // 60)),
                },
            )
            await self._uow.commit()
        try:
            await self._queue.enqueue(SEND_TEMPLATED_SMS, sms.as_payload())
        except Exception as exc:
            _log.error("could not enqueue a phone code (%s); the caller may ask again", exc)
            raise DependencyUnavailableError(
                "could not be sent; try again shortly", field="phone"
            ) from exc
        return PhoneNumberState(number=number.masked(), verified=False)

    async def _throttle(self, key: str) -> None:
        try:
            decision = await self._limiter.acquire(key, self._policy.sends)
        except RateLimiterUnavailableError as exc:
            _log.error("phone code limiter unavailable (%s); refusing to send", exc)
            raise DependencyUnavailableError(
                "is unavailable; try again shortly", field="rate_limit"
            ) from exc
        if not decision.allowed:
            raise TooManyRequestsError(decision.retry_after_seconds)
