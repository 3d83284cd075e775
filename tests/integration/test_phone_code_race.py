"""Wrong phone codes sent in parallel still count one by one, on PostgreSQL."""

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from adapters.memory.security import SequentialOpaqueTokens
from adapters.memory.system import ManualClock, SequentialIdGenerator
from adapters.sqlalchemy.notifications.phone_verifications import SqlPhoneVerificationRepository
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from adapters.sqlalchemy.users import SqlUserRepository
from application.notifications.verify_phone_number import (
    VerifyPhoneNumber,
    VerifyPhoneNumberCommand,
)
from application.users.security_notices import SecurityNotices
from domain.notifications.phone import CODE_ATTEMPTS, PhoneCodeError, PhoneNumber, PhoneVerification
from domain.users.user import User
from domain.users.values import Email, UserId, Username
from tests.support.postgres import engine_for_tests


class NoticeQueue:
    """The `TaskQueue` port as a list: the security notices the race enqueued."""

    def __init__(self) -> None:
        self.tasks: list[str] = []

    async def enqueue(self, task: str, payload: Mapping[str, str]) -> None:
        self.tasks.append(task)


pytestmark = pytest.mark.integration

NOW = datetime(2026, 7, 1, tzinfo=UTC)
USER = UserId(UUID(int=77))


async def test_parallel_wrong_codes_cannot_outnumber_the_attempts(
    clean_database: Any, migrated_url: str
) -> None:
    engine = engine_for_tests(migrated_url, autocommit=True)
    secrets = SequentialOpaqueTokens()
    clock = ManualClock(NOW)
    try:
        async with engine.connect() as connection:
            uow = SqlAlchemyUnitOfWork(connection, SequentialIdGenerator())
            async with uow:
                await SqlUserRepository(connection).add(
                    User.register(
                        id=USER,
                        username=Username("phoner"),
                        email=Email.parse("phoner@test.com"),
                        password_hash="x",
                        now=NOW,
                    )
                )
                await SqlPhoneVerificationRepository(connection).save(
                    PhoneVerification.start(
                        USER,
                        PhoneNumber.parse("+14155550100"),
                        code_hash=secrets.fingerprint("123456"),
                        expires_at=NOW + timedelta(minutes=10),
                    )
                )
                await uow.commit()

        notices = NoticeQueue()

        async def guess(code: str) -> str:
            async with engine.connect() as connection:
                verify = VerifyPhoneNumber(
                    uow=SqlAlchemyUnitOfWork(connection, SequentialIdGenerator()),
                    phones=SqlPhoneVerificationRepository(connection),
                    secrets=secrets,
                    clock=clock,
                    users=SqlUserRepository(connection),
                    notices=SecurityNotices(notices),
                )
                try:
                    await verify(VerifyPhoneNumberCommand(user_id=USER, code=code))
                except PhoneCodeError as exc:
                    return exc.message
                return "verified"

        answers = await asyncio.gather(*(guess(f"{n:06d}") for n in range(3 * CODE_ATTEMPTS)))
        assert answers.count("is invalid") == CODE_ATTEMPTS, answers
        assert await guess("123456") == "has expired; request a new one"
        assert notices.tasks == []
    finally:
        await engine.dispose()
