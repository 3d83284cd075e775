"""Event handlers that turn what happened into notifications for the people it concerns.

Each handler reads the event into its typed payload (`event_payloads`), names the recipients
and the display values its templates need, and leaves the rest (preferences, idempotency,
delivery) to the use cases. Events written by an older version may lack the newer display
fields; those fall back to "".
Other users are named by username, never by internal id (a UUIDv7 tells when the account
was made). The worker's handler table (`entrypoints/worker/handlers.py`) says which event
reaches which handler.
"""

from application.events.event_handler import EventHandler
from application.events.received_event import ReceivedEvent
from application.notifications.event_payloads import (
    ArticleActivity,
    ArticleFavoritedPayload,
    ArticlePublishedPayload,
    CommentAddedPayload,
    PasswordChangedPayload,
    UserFollowedPayload,
    UserSignedInPayload,
)
from application.notifications.fan_out_to_followers import (
    FanOutToFollowers,
    FanOutToFollowersCommand,
)
from application.notifications.notification_factory import NotificationDraft
from application.notifications.notify_user import NotifyUser, NotifyUserCommand
from application.users.ports import UserRepository
from domain.notifications.notification import NotificationKind, Subject
from domain.users.values import UserId

FORMER_MEMBER = "a former member"
"""Shown for an actor whose account is gone; no username can look like it (it has spaces)."""


async def _username(users: UserRepository, user_id: UserId) -> str:
    user = await users.get(user_id)
    return FORMER_MEMBER if user is None else str(user.username)


async def _article_draft(
    event: ReceivedEvent, kind: NotificationKind, activity: ArticleActivity, users: UserRepository
) -> NotificationDraft:
    """A draft about an article, with the actor's name and the article's title and slug."""
    return NotificationDraft(
        kind=kind,
        actor_id=activity.actor,
        subject=Subject(type="article", id=activity.article_id),
        source=event.event_id,
        data={
            "actor_username": await _username(users, activity.actor),
            "article_title": activity.title,
            "article_slug": activity.slug,
        },
    )


class NotifyNewFollower(EventHandler):
    """On `user.followed`: tell the followed user who followed them, by username.

    A follow/unfollow loop tells them once per quiet period (`RepeatPolicy`).
    """

    def __init__(self, notify: NotifyUser, users: UserRepository) -> None:
        self._notify = notify
        self._users = users

    async def __call__(self, event: ReceivedEvent) -> None:
        """Notify the followee."""
        followed = UserFollowedPayload.from_event(event)
        username = await _username(self._users, followed.follower)
        draft = NotificationDraft(
            kind=NotificationKind.NEW_FOLLOWER,
            actor_id=followed.follower,
            subject=Subject(type="user", id=username),
            source=event.event_id,
            data={"actor_username": username},
        )
        await self._notify(NotifyUserCommand(recipient=followed.followee_id, draft=draft))


class NotifyFollowersOfArticle(EventHandler):
    """On `article.published`: tell every follower of the author.

    The first batch is notified now, the rest as jobs (`FanOutToFollowers`).
    """

    def __init__(self, fan_out: FanOutToFollowers, users: UserRepository) -> None:
        self._fan_out = fan_out
        self._users = users

    async def __call__(self, event: ReceivedEvent) -> None:
        """Fan the notification out to the author's followers."""
        published = ArticlePublishedPayload.from_event(event)
        draft = await _article_draft(
            event, NotificationKind.NEW_ARTICLE, published.activity, self._users
        )
        await self._fan_out(FanOutToFollowersCommand(followee=published.author_id, draft=draft))


class NotifyArticleAuthorOfComment(EventHandler):
    """On `comment.added`: tell the article's author who commented."""

    def __init__(self, notify: NotifyUser, users: UserRepository) -> None:
        self._notify = notify
        self._users = users

    async def __call__(self, event: ReceivedEvent) -> None:
        """Notify the article's author."""
        comment = CommentAddedPayload.from_event(event)
        draft = await _article_draft(
            event, NotificationKind.NEW_COMMENT, comment.activity, self._users
        )
        await self._notify(NotifyUserCommand(recipient=comment.article_author_id, draft=draft))


class NotifyAuthorOfFavorite(EventHandler):
    """On `article.favorited`: tell the article's author who made it a favorite."""

    def __init__(self, notify: NotifyUser, users: UserRepository) -> None:
        self._notify = notify
        self._users = users

    async def __call__(self, event: ReceivedEvent) -> None:
        """Notify the article's author."""
        favorited = ArticleFavoritedPayload.from_event(event)
        draft = await _article_draft(
            event, NotificationKind.ARTICLE_FAVORITED, favorited.activity, self._users
        )
        await self._notify(NotifyUserCommand(recipient=favorited.author_id, draft=draft))


class NotifyOfSignIn(EventHandler):
    """On `user.signed_in`: tell the user a session was opened, from where."""

    def __init__(self, notify: NotifyUser) -> None:
        self._notify = notify

    async def __call__(self, event: ReceivedEvent) -> None:
        """Notify the user who signed in."""
        signed_in = UserSignedInPayload.from_event(event)
        draft = NotificationDraft(
            kind=NotificationKind.NEW_LOGIN,
            actor_id=None,
            subject=Subject(type="session", id=signed_in.session_id),
            source=event.event_id,
            data={
                "device": signed_in.device,
                "ip_address": signed_in.ip,
                "signed_in_at": event.occurred_at.isoformat(),
            },
        )
        await self._notify(NotifyUserCommand(recipient=signed_in.user_id, draft=draft))


class NotifyOfPasswordChange(EventHandler):
    """On `user.password_changed`: tell the user, in the app, by push and by SMS.

    Not by email: the change itself mailed a security notice (see `MAILED_AT_COMMIT`).
    """

    def __init__(self, notify: NotifyUser, users: UserRepository) -> None:
        self._notify = notify
        self._users = users

    async def __call__(self, event: ReceivedEvent) -> None:
        """Notify the user whose password changed."""
        user = PasswordChangedPayload.from_event(event).user_id
        draft = NotificationDraft(
            kind=NotificationKind.PASSWORD_CHANGED,
            actor_id=None,
            subject=Subject(type="user", id=await _username(self._users, user)),
            source=event.event_id,
            data={"changed_at": event.occurred_at.isoformat()},
        )
        await self._notify(NotifyUserCommand(recipient=user, draft=draft))
