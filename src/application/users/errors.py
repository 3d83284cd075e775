"""Errors of the users context's use cases."""

from application.common.errors import (
    ConcealedDenialError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
)

TAKEN = "has already been taken"


class UsernameTakenError(ConflictError):
    """Another account has this username (compared without case)."""

    field = "username"
    message = TAKEN


class EmailTakenError(ConflictError):
    """Another account has this email."""

    field = "email"
    message = TAKEN


class AccountBannedError(PermissionDeniedError):
    """The account is banned, so it may not sign in."""

    field = "account"
    message = "is banned"


class OneTimeTokenNotFoundError(NotFoundError):
    """A link's token designates nothing the server holds for this purpose.

    Unknown, used, expired, issued for another purpose, or no longer proving the address it
    was mailed to: one answer for every cause, so a caller learns nothing from which.
    """

    field = "token"
    message = "is invalid or has expired"


class SessionNotFoundError(NotFoundError):
    """The caller has no session with this id."""

    field = "session"
    message = "not found"


class ConcealedSessionError(SessionNotFoundError, ConcealedDenialError):
    """The session exists but is someone else's: answered as not found, audited as denied."""
