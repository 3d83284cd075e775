"""Use case: trade a refresh token for a new access token and a new refresh token."""

import logging
from dataclasses import dataclass, field

from application.common.errors import AuthenticationRequiredError
from application.identity.authenticated_user import AuthenticatedUser
from application.identity.errors import AccountBannedError
from application.identity.session_policy import SessionPolicy
from application.ports.persistence import SessionRepository, UnitOfWork, UserRepository
from application.ports.security import SecretTokens, TokenIssuer
from application.ports.system import Clock

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class RefreshSessionCommand:
    """The refresh token, from the cookie or the body."""

    refresh_token: str = field(repr=False)


class RefreshSession:
    """Rotate a session's refresh token.

    Rules:
    - An unknown, expired or revoked token answers 401 and changes nothing.
    - A token that was already rotated is a replay: the whole session is revoked, and 401.
    - A banned user's session is revoked and refused.
    - Otherwise the old token is retired, a new one issued, and the session extended.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        users: UserRepository,
        sessions: SessionRepository,
        secrets: SecretTokens,
        tokens: TokenIssuer,
        policy: SessionPolicy,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._users = users
        self._sessions = sessions
        self._secrets = secrets
        self._tokens = tokens
        self._policy = policy
        self._clock = clock

    async def __call__(self, command: RefreshSessionCommand) -> AuthenticatedUser:
        """Rotate, or revoke on reuse."""
        now = self._clock.now()
        async with self._uow:
            match = await self._sessions.find_by_token_hash(
                self._secrets.fingerprint(command.refresh_token)
            )
            if match is None:
                raise AuthenticationRequiredError("is invalid")
            session = match.session
            if match.reused:
                if session.revoke(now=now, reason="refresh token reused"):
                    await self._sessions.save(session)
                    await self._uow.commit()
                    _log.warning("refresh token reuse: session %s revoked", session.id)
                raise AuthenticationRequiredError("is invalid")
            user = await self._users.get(session.user_id)
            if user is None or not session.is_active(now):
                raise AuthenticationRequiredError("is invalid")
            if user.is_banned:
                session.revoke(now=now, reason="user banned")
                await self._sessions.save(session)
                await self._uow.commit()
                raise AccountBannedError
            refresh_token = self._secrets.new_token()
            session.rotate(
                self._secrets.fingerprint(refresh_token),
                now=now,
                ttl=self._policy.refresh_ttl,
                max_lifetime=self._policy.max_lifetime,
            )
            await self._sessions.save(session)
            await self._uow.commit()
        token = self._tokens.issue_access_token(
            user_id=user.id, role=user.role, session_id=session.id
        )
        return AuthenticatedUser.of(user, token, refresh_token)
