"""The application's event handlers: which event reaches which handler, under which name.

Adding a handler is one row here: the container provides every class in this table
(`entrypoints.ioc.events`), and the consumer loop subscribes to the topics their event
types travel on. The consumer name is what `processed_events` deduplicates on: renaming
one lets a redelivered or replayed event run its handler again.
"""

from application.files.delete_article_images import DeleteArticleImages
from application.notifications.handlers import (
    NotifyArticleAuthorOfComment,
    NotifyAuthorOfFavorite,
    NotifyFollowersOfArticle,
    NotifyNewFollower,
    NotifyOfPasswordChange,
    NotifyOfSignIn,
)
from entrypoints.worker.handler_table import HandlerTable, on_event

EVENT_HANDLERS = HandlerTable(
    on_event("user.followed", consumer="notifications.new-follower", handler=NotifyNewFollower),
    on_event(
        "article.published", consumer="notifications.new-article", handler=NotifyFollowersOfArticle
    ),
    on_event(
        "comment.added", consumer="notifications.new-comment", handler=NotifyArticleAuthorOfComment
    ),
    on_event(
        "article.favorited",
        consumer="notifications.article-favorited",
        handler=NotifyAuthorOfFavorite,
    ),
    on_event("user.signed_in", consumer="notifications.new-login", handler=NotifyOfSignIn),
    on_event(
        "user.password_changed",
        consumer="notifications.password-changed",
        handler=NotifyOfPasswordChange,
    ),
    on_event("article.deleted", consumer="files.article-images", handler=DeleteArticleImages),
)
"""Every handler of the application, in the order an event's handlers run."""
