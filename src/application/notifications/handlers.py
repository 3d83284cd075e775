"""Event handlers that turn what happened into notifications for the people it concerns.

Each handler reads the event, names the recipients and the display values its templates
need, and leaves the rest (preferences, idempotency, delivery) to the use cases. Events
written by an older version may lack the newer display fields; those fall back to "".
Other users are named by username, never by internal id (a UUIDv7 tells when the account
was made).
"""

from uuid import UUID

from application.events.consumers import ReceivedEvent, consumers
from application.notifications.creating import NotificationDraft
from application.notifications.fan_out_to_followers import (
    FanOutToFollowers,
    FanOutToFollowersCommand,
)
from application.notifications.notify_user import NotifyUser, NotifyUserCommand
from application.users.ports import UserRepository
from domain.notifications.notification import NotificationKind, Subject
from domain.users.values import UserId

FORMER_MEMBER = "a former member"
"""Shown for an actor whose account is gone; no username can look like it (it has spaces)."""


def _user_id(value: object) -> UserId:
    return UserId(UUID(str(value)))


async def _username(users: UserRepository, user_id: UserId) -> str:
    user = await users.get(user_id)
    return FORMER_MEMBER if user is None else str(user.username)


@consumers.on_event("user.followed", consumer="notifications.new-follower")
async def notify_new_follower(
    event: ReceivedEvent, notify: NotifyUser, users: UserRepository
) -> None:
    """Tell the followed user who followed them, naming the follower by username.

    A follow/unfollow loop tells them once per quiet period (`RepeatPolicy`).
    """
    follower = _user_id(event.aggregate_id)
    username = await _username(users, follower)
    draft = NotificationDraft(
        kind=NotificationKind.NEW_FOLLOWER,
        actor_id=follower,
        subject=Subject(type="user", id=username),
        source=event.event_id,
        data={"actor_username": username},
    )
    await notify(NotifyUserCommand(recipient=_user_id(event.payload["followee_id"]), draft=draft))


async def _article_draft(
    event: ReceivedEvent,
    kind: NotificationKind,
    *,
    actor: UserId,
    article_id: str,
    title_key: str,
    slug_key: str,
    users: UserRepository,
) -> NotificationDraft:
    """A draft about an article, with the actor's name and the article's title and slug."""
    return NotificationDraft(
        kind=kind,
        actor_id=actor,
        subject=Subject(type="article", id=article_id),
        source=event.event_id,
        data={
            "actor_username": await _username(users, actor),
            "article_title": str(event.payload.get(title_key, "")),
            "article_slug": str(event.payload.get(slug_key, "")),
        },
    )


@consumers.on_event("article.published", consumer="notifications.new-article")
async def notify_followers_of_article(
    event: ReceivedEvent, fan_out: FanOutToFollowers, users: UserRepository
) -> None:
    """Tell every follower of the author; the first batch now, the rest as jobs."""
    author = _user_id(event.payload["author_id"])
    draft = await _article_draft(
        event,
        NotificationKind.NEW_ARTICLE,
        actor=author,
        article_id=event.aggregate_id,
        title_key="title",
        slug_key="slug",
        users=users,
    )
    await fan_out(FanOutToFollowersCommand(followee=author, draft=draft))


@consumers.on_event("comment.added", consumer="notifications.new-comment")
async def notify_article_author_of_comment(
    event: ReceivedEvent, notify: NotifyUser, users: UserRepository
) -> None:
    """Tell the article's author who commented."""
    draft = await _article_draft(
        event,
        NotificationKind.NEW_COMMENT,
        actor=_user_id(event.payload["author_id"]),
        article_id=str(event.payload["article_id"]),
        title_key="article_title",
        slug_key="article_slug",
        users=users,
    )
    recipient = _user_id(event.payload["article_author_id"])
    await notify(NotifyUserCommand(recipient=recipient, draft=draft))


@consumers.on_event("article.favorited", consumer="notifications.article-favorited")
async def notify_author_of_favorite(
    event: ReceivedEvent, notify: NotifyUser, users: UserRepository
) -> None:
    """Tell the article's author who made it a favorite."""
    draft = await _article_draft(
        event,
        NotificationKind.ARTICLE_FAVORITED,
        actor=_user_id(event.payload["user_id"]),
        article_id=event.aggregate_id,
        title_key="title",
        slug_key="slug",
        users=users,
    )
    recipient = _user_id(event.payload["author_id"])
    await notify(NotifyUserCommand(recipient=recipient, draft=draft))


@consumers.on_event("user.signed_in", consumer="notifications.new-login")
async def notify_of_sign_in(event: ReceivedEvent, notify: NotifyUser) -> None:
    """Tell the user a session was opened, from where."""
    user = _user_id(event.aggregate_id)
    draft = NotificationDraft(
        kind=NotificationKind.NEW_LOGIN,
        actor_id=None,
        subject=Subject(type="session", id=str(event.payload["session_id"])),
        source=event.event_id,
        data={
            "device": str(event.payload.get("device", "unknown")),
            "ip_address": str(event.payload.get("ip", "unknown")),
            "signed_in_at": event.occurred_at.isoformat(),
        },
    )
    await notify(NotifyUserCommand(recipient=user, draft=draft))


@consumers.on_event("user.password_changed", consumer="notifications.password-changed")
async def notify_of_password_change(
    event: ReceivedEvent, notify: NotifyUser, users: UserRepository
) -> None:
    """Tell the user their password changed, in the app, by push and by SMS.

    Not by email: the change itself mailed a security notice (see `MAILED_AT_COMMIT`).
    """
    user = _user_id(event.aggregate_id)
    draft = NotificationDraft(
        kind=NotificationKind.PASSWORD_CHANGED,
        actor_id=None,
        subject=Subject(type="user", id=await _username(users, user)),
        source=event.event_id,
        data={"changed_at": event.occurred_at.isoformat()},
    )
    await notify(NotifyUserCommand(recipient=user, draft=draft))
