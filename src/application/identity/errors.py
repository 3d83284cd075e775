"""Errors of the identity use cases."""

from application.common.errors import ConflictError, PermissionDeniedError

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
