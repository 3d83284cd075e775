"""Driver failures that a racing write causes, as the application's errors.

A write that inserts a row naming another aggregate (a comment naming its article) can
lose a race with the deletion of that aggregate: the use case saw it, another
transaction deleted it, and the insert breaks the foreign key. For the client that is the
same as the aggregate having been gone before, so each foreign key maps to the error a
use case raises when the row it names is missing. Every foreign key of the schema has an
entry (`tests/unit/test_database_errors.py`), so a new one gets a conscious mapping.

A deadlock, or a serialization failure, means the transaction lost a race with another
and was rolled back whole: nothing it did persists, and retrying it may succeed.

Any other failure of a statement stays the driver's (an outage is translated by
`connection_loss`). Entrypoints that report such a failure to an operator catch
`DATABASE_ERRORS` and print `described(exc)`, so none of them names a driver class.
"""

from collections.abc import Callable, Mapping
from typing import Final

import psycopg
from sqlalchemy.exc import DBAPIError, ProgrammingError, SQLAlchemyError

from application.articles.errors import ArticleNotFoundError
from application.common.errors import (
    ApplicationError,
    AuthenticationRequiredError,
    ConflictError,
    NotFoundError,
)
from application.profiles.errors import ProfileNotFoundError

DATABASE_ERRORS: Final = (SQLAlchemyError,)
"""What a statement the database refused raises, when no translation above applies."""

FOREIGN_KEY_VIOLATION: Final = "23503"
SERIALIZATION_FAILURE: Final = "40001"
DEADLOCK_DETECTED: Final = "40P01"


class WriteConflictError(ConflictError):
    """The transaction lost a race with another and was rolled back; retrying may succeed."""

    message = "conflicted with a concurrent change; nothing was saved, try again"


def _caller_gone() -> ApplicationError:
    return AuthenticationRequiredError("is invalid")


def _user_gone() -> ApplicationError:
    return NotFoundError("not found", field="user")


VANISHED_REFERENCE: Mapping[str, Callable[[], ApplicationError]] = {
    "fk_article_tags_article_id_articles": ArticleNotFoundError,
    "fk_comments_article_id_articles": ArticleNotFoundError,
    "fk_favorites_article_id_articles": ArticleNotFoundError,
    "fk_follows_followee_id_users": ProfileNotFoundError,
    "fk_articles_author_id_users": _caller_gone,
    "fk_comments_author_id_users": _caller_gone,
    "fk_favorites_user_id_users": _caller_gone,
    "fk_follows_follower_id_users": _caller_gone,
    "fk_sessions_user_id_users": _caller_gone,
    "fk_files_owner_id_users": _caller_gone,
    "fk_retired_refresh_tokens_session_id_sessions": _caller_gone,
    "fk_push_subscriptions_user_id_users": _caller_gone,
    "fk_phone_numbers_user_id_users": _caller_gone,
    "fk_notification_preferences_user_id_users": _caller_gone,
    "fk_one_time_tokens_user_id_users": _user_gone,
    "fk_notifications_recipient_id_users": _user_gone,
    "fk_notifications_actor_id_users": _user_gone,
    "fk_notification_deliveries_notification_id_notifications": lambda: NotFoundError(
        "not found", field="notification"
    ),
}
"""Each foreign key, by name, and the error for a row it named that is gone."""


def _driver_error(exc: BaseException) -> psycopg.Error | None:
    """The error psycopg raised, as is (precompiled reads) or wrapped by SQLAlchemy."""
    driver = exc.orig if isinstance(exc, DBAPIError) else exc
    return driver if isinstance(driver, psycopg.Error) else None


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a driver error, if it carries one."""
    driver = _driver_error(exc)
    return driver.sqlstate if driver is not None else None


def constraint_name(exc: BaseException) -> str | None:
    """The name of the constraint a driver error reports breaking, if any."""
    driver = _driver_error(exc)
    return driver.diag.constraint_name if driver is not None else None


def translated(exc: BaseException) -> ApplicationError | None:
    """The application's error for a failure a racing write causes; None for any other.

    A foreign key outside `VANISHED_REFERENCE` stays untranslated: that is a bug, and it
    must surface as one.
    """
    state = sqlstate(exc)
    if state in (SERIALIZATION_FAILURE, DEADLOCK_DETECTED):
        return WriteConflictError()
    if state == FOREIGN_KEY_VIOLATION:
        factory = VANISHED_REFERENCE.get(constraint_name(exc) or "")
        return factory() if factory is not None else None
    return None


def described(exc: BaseException) -> str:
    """One line for an operator: what the database said, and a hint when the schema is missing."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    detail = reason[0] if reason else type(exc).__name__
    hint = " (run `portico db upgrade` first)" if isinstance(exc, ProgrammingError) else ""
    return f"database error: {detail}{hint}"
