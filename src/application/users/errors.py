"""Errors of the users context's use cases."""

from application.common.errors import ConflictError, NotFoundError, PermissionDeniedError

TAKEN = "has already been taken"


class UsernameTakenError(ConflictError):
    """Another account has this username (compared without case)."""

    field = "username"

    def __init__(self) -> None:
        super().__init__(TAKEN)


class EmailTakenError(ConflictError):
    """Another account has this email."""

    field = "email"

    def __init__(self) -> None:
        super().__init__(TAKEN)


class AccountBannedError(PermissionDeniedError):
    """The account is banned, so it may not sign in."""

    field = "account"

    def __init__(self) -> None:
        super().__init__("is banned")


class OneTimeTokenNotFoundError(NotFoundError):
    """A link's token designates nothing the server holds for this purpose.

    Unknown, used, expired, issued for another purpose, or no longer proving the address it
    was mailed to: one answer for every cause, so a caller learns nothing from which.
    """

    field = "token"

    def __init__(self) -> None:
        super().__init__("is invalid or has expired")
