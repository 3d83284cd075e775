"""Use case: the caller's own account."""

from dataclasses import dataclass

from application.common.errors import AuthenticationRequiredError
from application.common.identity import Identity
from application.identity.authenticated_user import AuthenticatedUser
from application.ports.persistence import UserRepository
from application.ports.security import TokenIssuer


@dataclass(frozen=True, slots=True, kw_only=True)
class GetCurrentUserCommand:
    """Who is asking."""

    actor: Identity


class GetCurrentUser:
    """Return the caller's account with a fresh access token.

    Rules:
    - A token whose account no longer exists, or is banned, no longer authenticates.
    - The fresh token belongs to the same session as the one presented, so it dies with it.
    """

    def __init__(self, users: UserRepository, tokens: TokenIssuer) -> None:
        self._users = users
        self._tokens = tokens

    async def __call__(self, command: GetCurrentUserCommand) -> AuthenticatedUser:
        """Load the account."""
        user = await self._users.get(command.actor.user_id)
        if user is None or user.is_banned:
            raise AuthenticationRequiredError("is invalid")
        token = self._tokens.issue_access_token(
            user_id=user.id, role=user.role, session_id=command.actor.session_id
        )
        return AuthenticatedUser.of(user, token)
