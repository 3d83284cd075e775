"""The notifications event handlers, run as the bus runs them on in-memory adapters: each
event type's consumer, who it tells, and nothing left behind when one fails."""

from collections.abc import Mapping
from typing import Any, get_type_hints
from uuid import UUID

import pytest
from dishka import make_async_container

from application.events.event_handler import EventHandler
from application.events.received_event import ReceivedEvent
from application.notifications import handlers
from application.notifications.deliver_notification import DELIVER_NOTIFICATION
from application.notifications.fan_out_to_followers import FanOutToFollowers
from application.notifications.notify_user import NotifyUser
from application.users.ports import UserRepository
from domain.articles.events import ArticleFavorited, ArticlePublished, CommentAdded
from domain.notifications.notification import Channel, NotificationKind, Subject
from domain.users.events import PasswordChanged, UserFollowed, UserSignedIn
from domain.users.values import UserId
from entrypoints.ioc.events import EventHandlerProvider
from tests.support.notification_drafts import event_of, notification_consumers
from tests.support.notification_world import NotificationWorld, WorldProvider, followed_author


@pytest.fixture
def world() -> NotificationWorld:
    return NotificationWorld()


@pytest.mark.parametrize(
    ("event_type", "consumer", "handler", "dependencies"),
    [
        (
            "user.followed",
            "notifications.new-follower",
            handlers.NotifyNewFollower,
            {"notify": NotifyUser, "users": UserRepository},
        ),
        (
            "article.published",
            "notifications.new-article",
            handlers.NotifyFollowersOfArticle,
            {"fan_out": FanOutToFollowers, "users": UserRepository},
        ),
        (
            "comment.added",
            "notifications.new-comment",
            handlers.NotifyArticleAuthorOfComment,
            {"notify": NotifyUser, "users": UserRepository},
        ),
        (
            "article.favorited",
            "notifications.article-favorited",
            handlers.NotifyAuthorOfFavorite,
            {"notify": NotifyUser, "users": UserRepository},
        ),
        (
            "user.signed_in",
            "notifications.new-login",
            handlers.NotifyOfSignIn,
            {"notify": NotifyUser},
        ),
        (
            "user.password_changed",
            "notifications.password-changed",
            handlers.NotifyOfPasswordChange,
            {"notify": NotifyUser, "users": UserRepository},
        ),
    ],
)
async def test_each_event_type_has_its_notifications_consumer(
    event_type: str,
    consumer: str,
    handler: type[EventHandler],
    dependencies: dict[str, type[Any]],
    world: NotificationWorld,
) -> None:
    [subscription] = notification_consumers(event_type)
    assert subscription.consumer == consumer
    assert subscription.handler is handler
    hints = get_type_hints(handler.__init__)
    assert {name: kind for name, kind in hints.items() if name != "return"} == dependencies
    container = make_async_container(EventHandlerProvider(), WorldProvider(world))
    try:
        async with container() as request:
            assert isinstance(await request.get(handler), handler)
    finally:
        await container.close()


async def test_a_follow_tells_the_followed_user_once(world: NotificationWorld) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    event = event_of(
        UserFollowed(aggregate_id=str(ada), occurred_at=world.clock.now(), followee_id=str(bob)),
        world.ids.new_id(),
    )
    assert await world.handle(event) == [True]
    [notification] = world.stored()
    assert notification.recipient_id == bob
    assert notification.kind is NotificationKind.NEW_FOLLOWER
    assert notification.actor_id == ada
    assert notification.subject == Subject(type="user", id="ada")
    assert notification.source == event.event_id
    assert dict(notification.data) == {"actor_username": "ada"}
    assert len(world.queue.of(DELIVER_NOTIFICATION)) == 3
    assert await world.handle(event) == [False]  # redelivered: skipped
    assert len(world.stored()) == 1
    assert len(world.queue.of(DELIVER_NOTIFICATION)) == 3


async def test_an_unknown_actor_is_someone(world: NotificationWorld) -> None:
    bob = await world.user("bob")
    ghost = UserId(UUID(int=10**6))
    event = event_of(
        UserFollowed(aggregate_id=str(ghost), occurred_at=world.clock.now(), followee_id=str(bob)),
        world.ids.new_id(),
    )
    await world.handle(event)
    [notification] = world.stored()
    assert dict(notification.data) == {"actor_username": handlers.FORMER_MEMBER}


async def test_a_published_article_tells_every_follower_of_its_author(
    world: NotificationWorld,
) -> None:
    world.batch_size = 2
    author, fans = await followed_author(world, 3)
    event = event_of(
        ArticlePublished(
            aggregate_id="article-7",
            occurred_at=world.clock.now(),
            author_id=str(author),
            slug="how-to-train-your-dragon",
            title="How to Train Your Dragon",
            tags=("dragons",),
        ),
        world.ids.new_id(),
    )
    assert await world.handle(event) == [True]
    assert len(world.stored()) == 2  # the first batch, in the handler's transaction
    assert await world.run_fan_out_jobs() == [1]
    stored = world.stored()
    assert sorted((n.recipient_id for n in stored), key=lambda u: u.value) == sorted(
        fans, key=lambda u: u.value
    )
    for notification in stored:
        assert notification.kind is NotificationKind.NEW_ARTICLE
        assert notification.actor_id == author
        assert notification.subject == Subject(type="article", id="article-7")
        assert notification.source == event.event_id
        assert dict(notification.data) == {
            "actor_username": "ada",
            "article_title": "How to Train Your Dragon",
            "article_slug": "how-to-train-your-dragon",
        }


async def test_a_comment_tells_the_articles_author(world: NotificationWorld) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    event = event_of(
        CommentAdded(
            aggregate_id="comment-1",
            occurred_at=world.clock.now(),
            article_id="article-7",
            article_author_id=str(ada),
            author_id=str(bob),
            article_slug="dragons",
            article_title="Dragons",
        ),
        world.ids.new_id(),
    )
    assert await world.handle(event) == [True]
    [notification] = world.stored()
    assert (notification.recipient_id, notification.actor_id) == (ada, bob)
    assert notification.kind is NotificationKind.NEW_COMMENT
    assert notification.subject == Subject(type="article", id="article-7")
    assert dict(notification.data) == {
        "actor_username": "bob",
        "article_title": "Dragons",
        "article_slug": "dragons",
    }


async def test_a_comment_on_your_own_article_tells_nobody(world: NotificationWorld) -> None:
    ada = await world.user("ada")
    event = event_of(
        CommentAdded(
            aggregate_id="comment-1",
            occurred_at=world.clock.now(),
            article_id="article-7",
            article_author_id=str(ada),
            author_id=str(ada),
        ),
        world.ids.new_id(),
    )
    assert await world.handle(event) == [True]
    assert world.stored() == []
    assert world.queue.jobs == []


async def test_an_older_comment_event_without_display_fields_falls_back_to_blanks(
    world: NotificationWorld,
) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    event = ReceivedEvent(
        event_id=str(world.ids.new_id()),
        event_type="comment.added",
        aggregate_type="comment",
        aggregate_id="comment-1",
        occurred_at=world.clock.now(),
        payload={"article_id": "article-7", "article_author_id": str(ada), "author_id": str(bob)},
    )
    assert await world.handle(event) == [True]
    [notification] = world.stored()
    assert dict(notification.data) == {
        "actor_username": "bob",
        "article_title": "",
        "article_slug": "",
    }


async def test_a_favorite_tells_the_author_but_not_when_it_is_their_own(
    world: NotificationWorld,
) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    own = event_of(
        ArticleFavorited(
            aggregate_id="article-7",
            occurred_at=world.clock.now(),
            author_id=str(ada),
            user_id=str(ada),
            slug="dragons",
            title="Dragons",
        ),
        world.ids.new_id(),
    )
    assert await world.handle(own) == [True]
    assert world.stored() == []
    event = event_of(
        ArticleFavorited(
            aggregate_id="article-7",
            occurred_at=world.clock.now(),
            author_id=str(ada),
            user_id=str(bob),
            slug="dragons",
            title="Dragons",
        ),
        world.ids.new_id(),
    )
    assert await world.handle(event) == [True]
    [notification] = world.stored()
    assert (notification.recipient_id, notification.actor_id) == (ada, bob)
    assert notification.kind is NotificationKind.ARTICLE_FAVORITED
    assert notification.subject == Subject(type="article", id="article-7")
    assert notification.channels == {Channel.IN_APP, Channel.PUSH}
    assert dict(notification.data) == {
        "actor_username": "bob",
        "article_title": "Dragons",
        "article_slug": "dragons",
    }


async def test_a_sign_in_tells_the_user_from_where(world: NotificationWorld) -> None:
    ada = await world.user("ada")
    at = world.clock.now()
    event = event_of(
        UserSignedIn(
            aggregate_id=str(ada),
            occurred_at=at,
            session_id="session-9",
            device="Firefox on Linux",
            ip="203.0.113.9",
        ),
        world.ids.new_id(),
    )
    assert await world.handle(event) == [True]
    [notification] = world.stored()
    assert (notification.recipient_id, notification.actor_id) == (ada, None)
    assert notification.kind is NotificationKind.NEW_LOGIN
    assert notification.subject == Subject(type="session", id="session-9")
    assert dict(notification.data) == {
        "device": "Firefox on Linux",
        "ip_address": "203.0.113.9",
        "signed_in_at": at.isoformat(),
    }


async def test_a_password_change_tells_the_user_everywhere_but_by_email(
    world: NotificationWorld,
) -> None:
    """The email is the security notice the change mailed at commit; never a second one."""
    ada = await world.user("ada", verified=True)
    at = world.clock.now()
    event = event_of(PasswordChanged(aggregate_id=str(ada), occurred_at=at), world.ids.new_id())
    assert await world.handle(event) == [True]
    [notification] = world.stored()
    assert (notification.recipient_id, notification.actor_id) == (ada, None)
    assert notification.kind is NotificationKind.PASSWORD_CHANGED
    assert notification.subject == Subject(type="user", id="ada")
    assert dict(notification.data) == {"changed_at": at.isoformat()}
    assert notification.channels == set(Channel) - {Channel.EMAIL}
    assert len(world.queue.of(DELIVER_NOTIFICATION)) == 3
    await world.run_deliveries()
    assert world.mailer.sent == []


async def test_a_failing_handler_leaves_nothing_behind(world: NotificationWorld) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    event = event_of(
        UserFollowed(aggregate_id=str(ada), occurred_at=world.clock.now(), followee_id=str(bob)),
        world.ids.new_id(),
    )

    def refuse(task: str, payload: Mapping[str, str]) -> None:
        raise AssertionError("nothing may be enqueued for a rolled-back event")

    world.queue.check = refuse
    broken = ReceivedEvent(
        event_id=event.event_id,
        event_type=event.event_type,
        aggregate_type=event.aggregate_type,
        aggregate_id=event.aggregate_id,
        occurred_at=event.occurred_at,
        payload={},  # no followee_id: the handler raises after nothing was stored
    )
    with pytest.raises(KeyError):
        await world.handle(broken)
    assert world.stored() == []
    world.queue.check = None
    assert await world.handle(event) == [True]  # the claim was rolled back too
    assert len(world.stored()) == 1
