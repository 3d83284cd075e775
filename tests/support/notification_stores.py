"""The notification stores on the memory and PostgreSQL adapters, for the contract tests.

`notification_stores` builds every store of the notifications context on the adapter the
fixture's param names (`STORE_KINDS`), with ada, bob and cy registered; `note` and
`subscription` make the records those tests store.
"""

import base64
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.memory.database import InMemoryDatabase
from adapters.memory.notifications.delivery_log import InMemoryDeliveryLog
from adapters.memory.notifications.followers import InMemoryFollowerReader
from adapters.memory.notifications.inbox import InMemoryNotificationRepository
from adapters.memory.notifications.phone_verifications import InMemoryPhoneVerificationRepository
from adapters.memory.notifications.preferences import InMemoryNotificationPreferencesRepository
from adapters.memory.notifications.push_subscriptions import InMemoryPushSubscriptionRepository
from adapters.memory.users import InMemoryUserRepository
from adapters.sqlalchemy.notifications.delivery_log import SqlDeliveryLog
from adapters.sqlalchemy.notifications.followers import SqlFollowerReader
from adapters.sqlalchemy.notifications.inbox import SqlNotificationRepository
from adapters.sqlalchemy.notifications.phone_verifications import SqlPhoneVerificationRepository
from adapters.sqlalchemy.notifications.preferences import SqlNotificationPreferencesRepository
from adapters.sqlalchemy.notifications.push_subscriptions import SqlPushSubscriptionRepository
from adapters.sqlalchemy.users import SqlUserRepository
from application.notifications.ports import (
    DeliveryLog,
    FollowerReader,
    NotificationPreferencesRepository,
    NotificationRepository,
    PhoneVerificationRepository,
    PushSubscriptionRepository,
)
from application.users.ports import UserRepository
from domain.notifications.notification import Channel, Notification, NotificationKind, Subject
from domain.notifications.push import PushSubscription
from domain.users.user import User
from domain.users.values import Email, UserId, Username
from tests.support.postgres import engine_for_tests, truncate_all

NOW = datetime(2026, 6, 1, tzinfo=UTC)
ADA, BOB, CY = UserId(UUID(int=1)), UserId(UUID(int=2)), UserId(UUID(int=3))
IN_APP_AND_EMAIL = frozenset({Channel.IN_APP, Channel.EMAIL})
P256DH = base64.urlsafe_b64encode(b"\x04" + bytes(range(64))).decode().rstrip("=")
AUTH = base64.urlsafe_b64encode(bytes(range(16))).decode().rstrip("=")


def note(
    number: int,
    recipient: UserId = ADA,
    *,
    source: str | None = None,
    channels: frozenset[Channel] = IN_APP_AND_EMAIL,
    at: datetime = NOW,
    actor: UserId | None = BOB,
) -> Notification:
    return Notification(
        id=UUID(int=1000 + number),
        recipient_id=recipient,
        kind=NotificationKind.NEW_FOLLOWER,
        actor_id=actor,
        subject=Subject(type="user", id=str(BOB)),
        source=source or f"event-{number}",
        channels=channels,
        created_at=at,
        data={"username": "bob"},
    )


def subscription(user: UserId, endpoint: str, *, at: datetime = NOW) -> PushSubscription:
    return PushSubscription.create(user, endpoint=endpoint, p256dh=P256DH, auth=AUTH, created_at=at)


@dataclass
class Stores:
    users: UserRepository
    notifications: NotificationRepository
    preferences: NotificationPreferencesRepository
    deliveries: DeliveryLog
    push: PushSubscriptionRepository
    phones: PhoneVerificationRepository
    followers: FollowerReader
    connection: AsyncConnection | None = None

    async def user(self, user_id: UserId, name: str) -> UserId:
        await self.users.add(
            User.register(
                id=user_id,
                username=Username(name),
                email=Email.parse(f"{name}@test.com"),
                password_hash="hash",
                now=NOW,
            )
        )
        return user_id

    async def ids(self, **query: object) -> list[int]:
        arguments: dict[str, object] = {"unread_only": False, "limit": 20, "offset": 0, **query}
        recipient = arguments.pop("recipient", ADA)
        page = await self.notifications.list_for(recipient, **arguments)  # type: ignore[arg-type]
        return [n.id.int - 1000 for n in page.items]


STORE_KINDS = ["memory", pytest.param("sqlalchemy", marks=pytest.mark.integration)]


@asynccontextmanager
async def notification_stores(request: pytest.FixtureRequest) -> AsyncIterator[Stores]:
    """The stores on `request.param`'s adapter; on PostgreSQL they share one connection in a
    transaction, committed on leaving, and every table is emptied after."""
    async with AsyncExitStack() as stack:
        if request.param == "memory":
            database = InMemoryDatabase()
            built = Stores(
                InMemoryUserRepository(database),
                InMemoryNotificationRepository(database),
                InMemoryNotificationPreferencesRepository(database),
                InMemoryDeliveryLog(database),
                InMemoryPushSubscriptionRepository(database),
                InMemoryPhoneVerificationRepository(database),
                InMemoryFollowerReader(database),
            )
        else:
            engine = engine_for_tests(request.getfixturevalue("migrated_url"))
            stack.push_async_callback(engine.dispose)
            stack.push_async_callback(truncate_all, engine)
            connection = await stack.enter_async_context(engine.connect())
            await connection.begin()
            built = Stores(
                SqlUserRepository(connection),
                SqlNotificationRepository(connection),
                SqlNotificationPreferencesRepository(connection),
                SqlDeliveryLog(connection),
                SqlPushSubscriptionRepository(connection),
                SqlPhoneVerificationRepository(connection),
                SqlFollowerReader(connection),
                connection,
            )
        for user_id, name in ((ADA, "ada"), (BOB, "bob"), (CY, "cy")):
            await built.user(user_id, name)
        yield built
        if built.connection is not None:
            await built.connection.commit()
