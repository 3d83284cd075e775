"""Use case: trade a refresh token for a new access token and a new refresh token."""

import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from application.audit.capture import audited, identify_actor, identify_target
from application.common.errors import AuthenticationRequiredError
from application.common.ports.clock import Clock
from application.common.ports.opaque_tokens import OpaqueTokens
from application.common.ports.unit_of_work import UnitOfWork
from application.users.authenticated_user import AuthenticatedUser
from application.users.errors import AccountBannedError
from application.users.ports import (
    RefreshTokenMatch,
    SessionRepository,
    TokenIssuer,
    UserRepository,
)
from application.users.session_policy import ClientInfo, SessionPolicy
from domain.audit.entry import AuditActor

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class RefreshSessionCommand:
    """The refresh token, from the cookie or the body, and the client presenting it."""

    refresh_token: str = field(repr=False)
    client: ClientInfo = field(default_factory=ClientInfo)


@audited("session.refresh", target="user")
class RefreshSession:
    """Rotate a session's refresh token.

    Rules:
    - An unknown, expired or revoked token is `AuthenticationRequiredError` and changes nothing.
    - A token rotated at most the grace period (REFRESH_REUSE_GRACE_SECONDS) ago,
      presented by the client that rotated it (same IP and User-Agent), whose successor is
      still current, gets that same pair again and changes nothing: two tabs refreshing
      with one cookie both succeed.
    - Any other rotated token is a replay: the whole session is revoked, and
      `AuthenticationRequiredError`; the audit entry of that revocation records the
      refusal.
    - A banned user's session is revoked and refused (`AccountBannedError`), recorded the
      same way.
    - Otherwise the old token is retired, its successor issued, and the session extended.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        users: UserRepository,
        sessions: SessionRepository,
        secrets: OpaqueTokens,
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
        """Rotate; answer a repeat within the grace period again; revoke on any other reuse.

        The new refresh token is a keyed function of the old one, and the new access token
        is dated at the rotation with an id drawn from the new refresh token, so the same
        pair can be answered again without either being stored.
        """
        now = self._clock.now()
        presented, client = command.refresh_token, self._client_fingerprint(command.client)
        refresh_token = self._secrets.successor(presented)
        async with self._uow:
            match = await self._sessions.find_by_token_hash(self._secrets.fingerprint(presented))
            if match is None:
                raise AuthenticationRequiredError("is invalid")
            session = match.session
            identify_target(session.user_id)
            repeat = match.reused and self._is_repeat(match, refresh_token, client, now)
            if match.reused and not repeat:
                replayed = AuthenticationRequiredError("is invalid")
                if session.revoke(now=now, reason="refresh token reused"):
                    await self._sessions.save(session)
                    await self._uow.commit(refusing=replayed)
                    _log.warning("refresh token reuse: session %s revoked", session.id)
                raise replayed
            user = await self._users.get(session.user_id)
            if user is None or not session.is_active(now):
                raise AuthenticationRequiredError("is invalid")
            identify_actor(AuditActor.user(str(user.id), str(user.username)))
            if user.is_banned:
                banned = AccountBannedError()
                session.revoke(now=now, reason="user banned")
                await self._sessions.save(session)
                await self._uow.commit(refusing=banned)
                raise banned
            if repeat:
                _log.info("refresh token repeated within the grace period: session %s", session.id)
            else:
                session.rotate(
                    self._secrets.fingerprint(refresh_token),
                    now=now,
                    ttl=self._policy.refresh_ttl,
                    max_lifetime=self._policy.max_lifetime,
                    by=client,
                )
                await self._sessions.save(session)
                await self._uow.commit()
        token = self._tokens.issue_access_token(
            user_id=user.id,
            role=user.role,
            session_id=session.id,
            issued_at=session.last_used_at,
            token_id=_access_token_id(session.token_hash),
        )
        return AuthenticatedUser.of(user, token, refresh_token)

    def _is_repeat(
        self, match: RefreshTokenMatch, successor: str, client: str, now: datetime
    ) -> bool:
        """Whether a rotated token is this client's repeat of the rotation, within the grace.

        Its successor must still be current: a token rotated twice since is a replay
        however recent, so the window never reaches past the newest pair.
        """
        grace = self._policy.reuse_grace
        if not grace or match.retired_at is None or match.retired_by is None:
            return False
        if now - match.retired_at > grace:
            return False
        return hmac.compare_digest(match.retired_by, client) and hmac.compare_digest(
            match.session.token_hash, self._secrets.fingerprint(successor)
        )

    def _client_fingerprint(self, client: ClientInfo) -> str:
        """A keyed hash of the client's IP and User-Agent, stored with the token it rotates."""
        return self._secrets.fingerprint(f"refresh-client\x00{client.ip}\x00{client.device}")


def _access_token_id(refresh_token_hash: str) -> UUID:
    """The access token's id, drawn from its refresh token's fingerprint.

    Hashed again so that the id, which any holder of the access token can read, says
    nothing of the fingerprint stored to look the refresh token up.
    """
    digest = hashlib.sha256(b"access-token-id\x00" + refresh_token_hash.encode()).digest()
    return UUID(bytes=digest[:16], version=4)
