"""Errors of the profile use cases."""

from application.common.errors import NotFoundError


class ProfileNotFoundError(NotFoundError):
    """No user has this username."""

    field = "profile"

    def __init__(self) -> None:
        super().__init__("not found")
