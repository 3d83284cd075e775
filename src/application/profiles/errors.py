"""Errors of the profile use cases."""

from application.common.errors import NotFoundError, PermissionDeniedError


class ProfileNotFoundError(NotFoundError):
    """No user has this username."""

    field = "profile"
    message = "not found"


class SelfFollowError(PermissionDeniedError):
    """Nobody may follow themselves.

    Forbidden rather than invalid: the request is well-formed and names a real profile, but
    the server refuses it for who the caller is (Twitter's API answers "You can't follow
    yourself" the same way).
    """

    field = "profile"
    message = "cannot be yourself"
