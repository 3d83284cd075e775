"""The notification preferences store, on the memory and PostgreSQL adapters alike."""

from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import UUID

import pytest
import sqlalchemy as sa

from adapters.sqlalchemy.tables import notification_preferences, notifications
from domain.notifications.notification import Channel, NotificationKind
from domain.notifications.preferences import DEFAULT_CHANNELS, NotificationPreferences
from tests.support.notification_stores import (
    ADA,
    BOB,
    CY,
    NOW,
    STORE_KINDS,
    Stores,
    note,
    notification_stores,
)


@pytest.fixture(params=STORE_KINDS)
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[Stores]:
    async with notification_stores(request) as built:
        yield built


async def test_preferences_default_until_chosen(stores: Stores) -> None:
    defaults = await stores.preferences.get(ADA)
    assert dict(defaults.chosen) == {}
    kind = NotificationKind.NEW_COMMENT
    assert defaults.channels_for(kind) == DEFAULT_CHANNELS[kind]


async def test_preferences_store_only_the_chosen_kinds_and_are_replaced(stores: Stores) -> None:
    chosen = NotificationPreferences().changed(
        {
            NotificationKind.NEW_COMMENT: {Channel.EMAIL: False, Channel.SMS: True},
            NotificationKind.ARTICLE_FAVORITED: {Channel.IN_APP: False, Channel.PUSH: False},
        }
    )
    await stores.preferences.save(ADA, chosen)
    loaded = await stores.preferences.get(ADA)
    assert dict(loaded.chosen) == {
        NotificationKind.NEW_COMMENT: frozenset({Channel.IN_APP, Channel.PUSH, Channel.SMS}),
        NotificationKind.ARTICLE_FAVORITED: frozenset(),
    }
    assert loaded.as_table() == chosen.as_table()
    fewer = NotificationPreferences().changed({NotificationKind.NEW_LOGIN: {Channel.PUSH: False}})
    await stores.preferences.save(ADA, fewer)
    assert dict((await stores.preferences.get(ADA)).chosen) == dict(fewer.chosen)


async def test_preferences_of_many_users_include_the_defaults(stores: Stores) -> None:
    chosen = NotificationPreferences().changed(
        {NotificationKind.NEW_ARTICLE: {Channel.EMAIL: False}}
    )
    await stores.preferences.save(BOB, chosen)
    many = await stores.preferences.get_many([ADA, BOB, CY, BOB])
    assert set(many) == {ADA, BOB, CY}
    assert dict(many[BOB].chosen) == dict(chosen.chosen)
    assert dict(many[ADA].chosen) == {}
    assert dict(many[CY].chosen) == {}
    assert await stores.preferences.get_many([]) == {}


@pytest.mark.integration
@pytest.mark.parametrize("stores", ["sqlalchemy"], indirect=True)
async def test_stored_kinds_and_channels_this_version_lacks_are_ignored(stores: Stores) -> None:
    """Only a database keeps what another version wrote, so this runs on PostgreSQL alone."""
    assert stores.connection is not None
    choices = {
        "new_comment": ["email", "carrier_pigeon"],
        "retired_kind": ["email"],
        "new_login": "not a list",
    }
    await stores.connection.execute(
        sa.insert(notification_preferences).values(user_id=ADA.value, choices=choices)
    )
    loaded = await stores.preferences.get(ADA)
    assert dict(loaded.chosen) == {NotificationKind.NEW_COMMENT: frozenset({Channel.EMAIL})}
    assert dict((await stores.preferences.get_many([ADA]))[ADA].chosen) == dict(loaded.chosen)
    await stores.notifications.add_new([note(1), note(2, at=NOW + timedelta(seconds=1))])
    await stores.connection.execute(
        sa.update(notifications)
        .where(notifications.c.id == UUID(int=1002))
        .values(kind="retired_kind")
    )
    await stores.connection.execute(
        sa.update(notifications)
        .where(notifications.c.id == UUID(int=1001))
        .values(channels=["in_app", "carrier_pigeon"])
    )
    assert await stores.ids() == [1]
    assert await stores.notifications.get(UUID(int=1002)) is None
    kept = await stores.notifications.get(UUID(int=1001))
    assert kept is not None
    assert kept.channels == frozenset({Channel.IN_APP})
