"""Use case: the caller's own account."""

from dataclasses import dataclass, field

from application.common.errors import AuthenticationRequiredError
from application.common.identity import Identity
from application.users.authenticated_user import AuthenticatedUser
from application.users.ports import UserRepository


@dataclass(frozen=True, slots=True, kw_only=True)
class GetCurrentUserCommand:
    """Who is asking, and the access token their request carried."""

    actor: Identity
    access_token: str = field(repr=False)


class GetCurrentUser:
    """Return the caller's account with the access token they presented.

    Rules:
    - A token whose account no longer exists, or is banned, no longer authenticates.
    - No new token is minted: only a refresh does, so a leaked access token cannot be
      extended past its own expiry (RFC 9700).
    """

    def __init__(self, users: UserRepository) -> None:
        self._users = users

    async def __call__(self, command: GetCurrentUserCommand) -> AuthenticatedUser:
        """Load the account."""
        user = await self._users.get(command.actor.user_id)
        if user is None or user.is_banned:
            raise AuthenticationRequiredError("is invalid")
        return AuthenticatedUser.of(user, command.access_token)
