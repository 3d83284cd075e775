"""The `PhoneVerificationRepository` port in PostgreSQL: one phone_numbers row per user."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.sqlalchemy.tables import phone_numbers
from application.notifications.ports import PhoneVerificationRepository
from domain.notifications.phone import PhoneNumber, PhoneVerification
from domain.users.values import UserId


class SqlPhoneVerificationRepository(PhoneVerificationRepository):
    """The `PhoneVerificationRepository` port: one row per user."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def get(self, user_id: UserId, *, for_update: bool = False) -> PhoneVerification | None:
        """The user's row, as it was saved; locked with FOR UPDATE when asked."""
        statement = sa.select(phone_numbers).where(phone_numbers.c.user_id == user_id.value)
        if for_update:
            statement = statement.with_for_update()
        row = (await self._connection.execute(statement)).mappings().first()
        if row is None:
            return None
        return PhoneVerification(
            user_id=UserId(row["user_id"]),
            number=PhoneNumber(row["number"]),
            code_hash=row["code_hash"],
            code_expires_at=row["code_expires_at"],
            attempts_left=row["attempts_left"],
            verified_at=row["verified_at"],
        )

    async def save(self, verification: PhoneVerification) -> None:
        """Upsert the user's row with every field."""
        values = {
            "number": verification.number.value,
            "code_hash": verification.code_hash,
            "code_expires_at": verification.code_expires_at,
            "attempts_left": verification.attempts_left,
            "verified_at": verification.verified_at,
        }
        statement = (
            pg_insert(phone_numbers)
            .values(user_id=verification.user_id.value, **values)
            .on_conflict_do_update(index_elements=[phone_numbers.c.user_id], set_=values)
        )
        await self._connection.execute(statement)

    async def remove(self, user_id: UserId) -> bool:
        """Delete the user's row; True when one went."""
        statement = (
            sa.delete(phone_numbers)
            .where(phone_numbers.c.user_id == user_id.value)
            .returning(phone_numbers.c.user_id)
        )
        return (await self._connection.execute(statement)).first() is not None
