"""Reading the notification inbox on in-memory adapters: marking read, marking all, listing
and counting the unread."""

from datetime import timedelta
from uuid import UUID

import pytest

from application.articles.pagination import PageRequest
from application.common.errors import InvalidInputError, NotFoundError
from application.notifications.count_unread_notifications import CountUnreadNotifications
from application.notifications.list_notifications import ListNotifications, ListNotificationsCommand
from application.notifications.mark_notifications_read import MarkNotificationsReadCommand
from application.notifications.update_notification_preferences import (
    UpdateNotificationPreferencesCommand,
)
from domain.notifications.notification import NotificationKind
from tests.support.notification_world import NotificationWorld


@pytest.fixture
def world() -> NotificationWorld:
    return NotificationWorld()


async def test_marking_read_touches_only_the_callers_own(world: NotificationWorld) -> None:
    ada, bob, cat = await world.user("ada"), await world.user("bob"), await world.user("cat")
    mine = await world.notified(bob, ada)
    theirs = await world.notified(cat, ada)
    first_read = world.clock.now()
    found = await world.mark_read()(
        MarkNotificationsReadCommand(recipient=bob, notification_ids=[mine.id, theirs.id, mine.id])
    )
    assert [(n.id, n.read_at) for n in found] == [(mine.id, first_read)]
    other = await world.notifications.get(theirs.id)
    assert other is not None
    assert other.read_at is None
    world.clock.advance(timedelta(hours=1))
    [again] = await world.mark_read()(
        MarkNotificationsReadCommand(recipient=bob, notification_ids=[mine.id])
    )
    assert again.read_at == first_read


async def test_marking_by_url_requires_every_id_to_be_the_callers(
    world: NotificationWorld,
) -> None:
    ada, bob, cat = await world.user("ada"), await world.user("bob"), await world.user("cat")
    mine = await world.notified(bob, ada)
    theirs = await world.notified(cat, ada)
    with pytest.raises(NotFoundError) as caught:
        await world.mark_read()(
            MarkNotificationsReadCommand(
                recipient=bob, notification_ids=[mine.id, theirs.id], require_all=True
            )
        )
    assert caught.value.field == "notification"
    still = await world.notifications.get(mine.id)
    assert still is not None
    assert still.read_at is None  # rolled back with the refusal


async def test_marking_is_limited_to_a_hundred_ids(world: NotificationWorld) -> None:
    bob = await world.user("bob")
    many = [UUID(int=i) for i in range(101)]
    with pytest.raises(InvalidInputError) as caught:
        await world.mark_read()(MarkNotificationsReadCommand(recipient=bob, notification_ids=many))
    assert caught.value.field == "ids"
    repeated = [UUID(int=1)] * 150  # repeats count once
    assert (
        await world.mark_read()(
            MarkNotificationsReadCommand(recipient=bob, notification_ids=repeated)
        )
        == []
    )
    assert (
        await world.mark_read()(MarkNotificationsReadCommand(recipient=bob, notification_ids=[]))
        == []
    )


async def test_mark_all_marks_only_the_callers_unread_in_app_ones(
    world: NotificationWorld,
) -> None:
    ada, bob, cat = await world.user("ada"), await world.user("bob"), await world.user("cat")
    await world.update_preferences()(
        UpdateNotificationPreferencesCommand(
            user_id=bob, changes={"new_comment": {"in_app": False}}
        )
    )
    read = await world.notified(bob, ada)
    await world.mark_read()(MarkNotificationsReadCommand(recipient=bob, notification_ids=[read.id]))
    await world.notified(bob, ada)
    await world.notified(bob, ada, NotificationKind.ARTICLE_FAVORITED)
    email_only = await world.notified(bob, ada, NotificationKind.NEW_COMMENT)
    await world.notified(cat, ada)
    count = CountUnreadNotifications(world.notifications)
    assert await count(bob) == 2
    assert await world.mark_all_read()(bob) == 2
    assert await count(bob) == 0
    assert await count(cat) == 1
    assert await world.mark_all_read()(bob) == 0
    hidden = await world.notifications.get(email_only.id)
    assert hidden is not None
    assert not hidden.in_app


async def test_the_list_is_the_callers_in_app_ones_newest_first(
    world: NotificationWorld,
) -> None:
    ada, bob, cat = await world.user("ada"), await world.user("bob"), await world.user("cat")
    await world.update_preferences()(
        UpdateNotificationPreferencesCommand(
            user_id=bob, changes={"new_comment": {"in_app": False}}
        )
    )
    created = []
    for kind in (
        NotificationKind.NEW_FOLLOWER,
        NotificationKind.NEW_ARTICLE,
        NotificationKind.NEW_COMMENT,  # email and push only: not listed
        NotificationKind.ARTICLE_FAVORITED,
    ):
        created.append(await world.notified(bob, ada, kind))
        world.clock.advance(timedelta(minutes=1))
    await world.notified(cat, ada)
    await world.mark_read()(
        MarkNotificationsReadCommand(recipient=bob, notification_ids=[created[1].id])
    )
    list_notifications = ListNotifications(world.notifications)
    page = await list_notifications(ListNotificationsCommand(recipient=bob, page=PageRequest()))
    assert [n.id for n in page.items] == [created[3].id, created[1].id, created[0].id]
    assert page.total == 3
    second = await list_notifications(
        ListNotificationsCommand(recipient=bob, page=PageRequest(limit=1, offset=1))
    )
    assert ([n.id for n in second.items], second.total) == ([created[1].id], 3)
    unread = await list_notifications(
        ListNotificationsCommand(recipient=bob, page=PageRequest(), unread_only=True)
    )
    assert ([n.id for n in unread.items], unread.total) == ([created[3].id, created[0].id], 2)
    assert await CountUnreadNotifications(world.notifications)(bob) == 2
