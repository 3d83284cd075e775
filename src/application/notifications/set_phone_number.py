"""Use case: give a phone number, and get a code by SMS to prove it."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from application.audit.capture import audited
from application.common.errors import (
    DependencyUnavailableError,
    InvalidInputError,
    TooManyRequestsError,
)
from application.common.ports.clock import Clock
from application.common.ports.opaque_tokens import OpaqueTokens
from application.common.ports.rate_limits import RateLimit, RateLimiter, RateLimiterUnavailableError
from application.common.ports.task_queue import TaskQueue
from application.common.ports.unit_of_work import UnitOfWork
from application.notifications.ports import PhoneVerificationRepository
from application.notifications.send_templated_sms import (
    SEND_TEMPLATED_SMS,
    SendTemplatedSmsCommand,
)
from domain.notifications.phone import PhoneNumber, PhoneVerification
from domain.users.values import UserId

_log = logging.getLogger(__name__)

CODE_DIGITS = 6
PHONE_CODE_TEMPLATE = "sms/phone_code"


BUDGET_KEY = "phone-codes-budget"
"""The limiter key counting every code sent, by anyone."""
BUDGET_ALARM_KEY = "phone-codes-budget-spent"
"""The limiter key that lets one operator alarm through per budget window."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PhoneCodePolicy:
    """How long a code lives, who may ask for how many, and which numbers may get one.

    `sends` limits each account and each number; `per_client` each client IP, whatever
    accounts it uses; `budget` every code sent, by anyone (the operator's bill).
    `calling_codes` are the country calling codes numbers may start with; empty: any.
    """

    ttl: timedelta
    sends: RateLimit
    per_client: RateLimit
    budget: RateLimit
    calling_codes: frozenset[str]
    app_name: str

    def __post_init__(self) -> None:
        if any(not code.isdigit() or code.startswith("0") for code in self.calling_codes):
            raise ValueError("calling codes are digits, without a leading zero")

    def allows_number(self, number: PhoneNumber) -> bool:
        """Whether the number's country calling code is allowed.

        Calling codes are prefix-free (ITU-T E.164), so one starting the number is its own.
        """
        digits = number.value.removeprefix("+")
        return not self.calling_codes or any(digits.startswith(c) for c in self.calling_codes)


def calling_codes(setting: str) -> frozenset[str]:
    """The calling codes of a comma-separated setting such as ``"1, 44,49"``."""
    return frozenset(code.strip().lstrip("+") for code in setting.split(",") if code.strip())


@dataclass(frozen=True, slots=True, kw_only=True)
class SetPhoneNumberCommand:
    """Whose number, as typed."""

    user_id: UserId
    phone: str
    client_ip: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PhoneNumberState:
    """The number (masked) and whether it is verified."""

    number: str
    verified: bool


@audited("phone.set", target="phone", target_id=lambda command: command.user_id)
class SetPhoneNumber:
    """Store the number unverified and text it a six-digit code.

    Rules:
    - The number must be in international (E.164) form, with an allowed country calling
      code; otherwise `DomainError` (the form) or `InvalidInputError` (the calling code),
      keyed ``phone``.
    - The same number again sends a new code (a resend); a different one replaces the old
      number and its verification. The same verified number again changes nothing.
    - Codes per user, per client IP whatever accounts it uses, and per number whoever
      asks, are limited (`TooManyRequestsError`): each costs a text message, and nobody may flood a
      stranger's phone or pump premium numbers; when the limiter is down, no code is sent
      (`DependencyUnavailableError`) rather than sending without a limit.
    - Every code, by anyone, also spends the hourly global budget. When it is spent the
      caller gets `DependencyUnavailableError` with when to retry, and the operator one
      log line per budget window.
      The budget is counted last, so requests refused above spend none of it; a request
      refused by a later limit gives the earlier counts back.
    - The code is stored hashed, expires, and is sent after the commit; when it cannot be
      handed to the queue the caller gets `DependencyUnavailableError` rather than
      waiting for a text that will never come.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        phones: PhoneVerificationRepository,
        secrets: OpaqueTokens,
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
        if not self._policy.allows_number(number):
            raise InvalidInputError(
                "is in a country we do not send text messages to", field="phone"
            )
        async with self._uow:
            current = await self._phones.get(command.user_id, for_update=True)
            if current is not None and current.number == number and current.is_verified:
                return PhoneNumberState(number=number.masked(), verified=True)
            await self._throttle(
                [
                    (f"phone-codes:{command.user_id}", self._policy.sends),
                    (f"phone-codes-from:{command.client_ip}", self._policy.per_client),
                    (f"phone-codes-to:{number.value}", self._policy.sends),
                ]
            )
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

    async def _throttle(self, limits: Sequence[tuple[str, RateLimit]]) -> None:
        """Count the request against each limit, then the budget; all or nothing."""
        counted: list[tuple[str, RateLimit]] = []
        try:
            for key, rate in limits:
                decision = await self._limiter.acquire(key, rate)
                if not decision.allowed:
                    await self._give_back(counted)
                    raise TooManyRequestsError(decision.retry_after_seconds)
                counted.append((key, rate))
            budget = await self._limiter.acquire(BUDGET_KEY, self._policy.budget)
            if not budget.allowed:
                await self._give_back(counted)
                await self._alarm_once()
                raise DependencyUnavailableError(
                    "cannot be texted right now; try again later",
                    field="phone",
                    retry_after_seconds=budget.retry_after_seconds,
                )
        except RateLimiterUnavailableError as exc:
            _log.error("phone code limiter unavailable (%s); refusing to send", exc)
            raise DependencyUnavailableError(
                "is unavailable; try again shortly", field="rate_limit"
            ) from exc

    async def _give_back(self, counted: Sequence[tuple[str, RateLimit]]) -> None:
        for key, rate in counted:
            await self._limiter.refund(key, rate)

    async def _alarm_once(self) -> None:
        """Tell the operator the budget is spent: once per budget window, on any process."""
        window = RateLimit(limit=1, window_seconds=self._policy.budget.window_seconds)
        if (await self._limiter.acquire(BUDGET_ALARM_KEY, window)).allowed:
            _log.error(
                "the SMS code budget of %d per %d s is spent: codes are refused until it "
                "refills; raise SMS_CODES_BUDGET_PER_HOUR if this is real demand",
                self._policy.budget.limit,
                self._policy.budget.window_seconds,
            )
