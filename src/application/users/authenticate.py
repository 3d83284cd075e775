"""Use case: turn a presented access token into the caller's identity."""

from dataclasses import dataclass, field

from application.common.errors import AuthenticationRequiredError
from application.common.identity import Identity
from application.common.ports.clock import Clock
from application.users.ports import InvalidTokenError, SessionRepository, TokenIssuer


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthenticateCommand:
    """The access token as sent."""

    token: str = field(repr=False)


class Authenticate:
    """Accept an access token only while its session lives.

    Rules:
    - The token must be valid (signature, algorithm, expiry, issuer, audience, claims).
    - It must name a session that is still active and belongs to its subject, whose account
      exists and is not banned; so logout, logout-all, revoking a session, a password reset
      and a ban cut off tokens already issued, at once.
    - The role is the account's current one, not the one in the token, so a promotion or
      a demotion takes effect on the next request.
    """

    def __init__(self, tokens: TokenIssuer, sessions: SessionRepository, clock: Clock) -> None:
        self._tokens = tokens
        self._sessions = sessions
        self._clock = clock

    async def __call__(self, command: AuthenticateCommand) -> Identity:
        """Check the token, then its session."""
        try:
            claims = self._tokens.read_access_token(command.token)
        except InvalidTokenError:
            raise AuthenticationRequiredError("is invalid") from None
        if claims.session_id is None:
            raise AuthenticationRequiredError("is invalid")
        caller = await self._sessions.live_caller(
            claims.session_id, claims.user_id, now=self._clock.now()
        )
        if caller is None:
            raise AuthenticationRequiredError("is invalid")
        return Identity(
            user_id=claims.user_id,
            role=caller.role,
            username=caller.username,
            session_id=claims.session_id,
            expires_at=claims.expires_at,
        )
