"""The notification preferences use cases on in-memory adapters: partial changes, refusals
that change nothing."""

import pytest

from application.common.errors import InvalidInputError
from application.notifications.get_notification_preferences import GetNotificationPreferences
from application.notifications.update_notification_preferences import (
    UpdateNotificationPreferencesCommand,
)
from domain.notifications.notification import Channel, NotificationKind
from domain.shared.errors import DomainError
from tests.support.notification_world import NotificationWorld


@pytest.fixture
def world() -> NotificationWorld:
    return NotificationWorld()


async def test_preferences_change_only_the_switches_given(world: NotificationWorld) -> None:
    bob = await world.user("bob")
    read = GetNotificationPreferences(world.preferences)
    before = await read(bob)
    updated = await world.update_preferences()(
        UpdateNotificationPreferencesCommand(
            user_id=bob,
            changes={"new_article": {"email": False}, "password_changed": {"sms": False}},
        )
    )
    assert await read(bob) == updated
    table = updated.as_table()
    assert table[NotificationKind.NEW_ARTICLE] == {
        Channel.IN_APP: True,
        Channel.EMAIL: False,
        Channel.SMS: False,
        Channel.PUSH: True,
    }
    assert table[NotificationKind.PASSWORD_CHANGED][Channel.SMS] is False
    assert table[NotificationKind.NEW_FOLLOWER] == before.as_table()[NotificationKind.NEW_FOLLOWER]


@pytest.mark.parametrize(
    "changes",
    [
        {"new_article": {"email": False}, "no_such_kind": {"email": True}},
        {"new_article": {"email": False, "pigeon": True}},
        {"NEW_ARTICLE": {"email": False}},
    ],
)
async def test_an_unknown_kind_or_channel_changes_nothing(
    world: NotificationWorld, changes: dict[str, dict[str, bool]]
) -> None:
    bob = await world.user("bob")
    with pytest.raises(InvalidInputError) as caught:
        await world.update_preferences()(
            UpdateNotificationPreferencesCommand(user_id=bob, changes=changes)
        )
    assert caught.value.field == "preferences"
    assert (await world.preferences.get(bob)).chosen == {}


async def test_security_email_stays_on_and_the_refusal_changes_nothing(
    world: NotificationWorld,
) -> None:
    bob = await world.user("bob")
    with pytest.raises(DomainError) as caught:
        await world.update_preferences()(
            UpdateNotificationPreferencesCommand(
                user_id=bob,
                changes={"new_article": {"email": False}, "new_login": {"email": False}},
            )
        )
    assert caught.value.field == "preferences"
    assert (await world.preferences.get(bob)).chosen == {}
