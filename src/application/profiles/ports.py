"""Profiles ports: the read side that shows a user as others see them."""

from dataclasses import dataclass
from typing import Protocol

from domain.users.values import UserId


@dataclass(frozen=True, slots=True, kw_only=True)
class ProfileView:
    """A user as others see them, and whether the viewer follows them."""

    username: str
    bio: str | None
    image: str | None
    following: bool


class ProfileReader(Protocol):
    """Reads profiles in one query, for display."""

    async def by_username(self, username: str, *, viewer: UserId | None) -> ProfileView | None:
        """The profile with exactly this username, as `viewer` sees it; None if none."""
        ...
