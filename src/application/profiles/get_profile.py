"""Use case: look at a user's profile."""

from dataclasses import dataclass

from application.common.identity import Identity
from application.profiles.errors import ProfileNotFoundError
from application.profiles.ports import ProfileReader, ProfileView


@dataclass(frozen=True, slots=True, kw_only=True)
class GetProfileCommand:
    """Whose profile, and who is looking (None when anonymous)."""

    username: str
    viewer: Identity | None


class GetProfile:
    """Show a profile.

    Rules:
    - Anyone may look; `following` is true only when the viewer follows the user.
    - The username must match exactly.
    """

    def __init__(self, profiles: ProfileReader) -> None:
        self._profiles = profiles

    async def __call__(self, command: GetProfileCommand) -> ProfileView:
        """Read the profile in one query."""
        viewer = command.viewer.user_id if command.viewer else None
        profile = await self._profiles.by_username(command.username, viewer=viewer)
        if profile is None:
            raise ProfileNotFoundError
        return profile
