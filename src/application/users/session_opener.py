"""Opening a session for a user who has just proved who they are: at sign-in and sign-up."""

from dataclasses import dataclass, field

from application.common.ports.clock import Clock
from application.common.ports.ids import IdGenerator
from application.common.ports.opaque_tokens import OpaqueTokens
from application.users.authenticated_user import AuthenticatedUser, SignedIn
from application.users.ports import DeviceTrust, SessionRepository, TokenIssuer
from application.users.session_policy import ClientInfo, SessionPolicy
from domain.users.session import Session
from domain.users.user import User


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenedSession:
    """A session just stored, and its refresh token: the only copy in clear."""

    session: Session
    refresh_token: str = field(repr=False)


class SessionOpener:
    """Opens sign-in sessions and hands their tokens to the client.

    `open` (or `sign_in`) stores the session in the caller's unit of work; `hand_over`
    issues the access token and a device token, once that unit of work has committed.
    Each session has its own rotating refresh token, lasting as the `SessionPolicy` says.
    """

    def __init__(
        self,
        *,
        sessions: SessionRepository,
        secrets: OpaqueTokens,
        tokens: TokenIssuer,
        devices: DeviceTrust,
        policy: SessionPolicy,
        clock: Clock,
        ids: IdGenerator,
    ) -> None:
        self._sessions = sessions
        self._secrets = secrets
        self._tokens = tokens
        self._devices = devices
        self._policy = policy
        self._clock = clock
        self._ids = ids

    async def open(self, user: User, client: ClientInfo) -> OpenedSession:
        """Store a new session of `user`, opened from `client`, in the open transaction."""
        refresh_token = self._secrets.new_token()
        session = Session.open(
            id=self._ids.new_id(),
            user_id=user.id,
            token_hash=self._secrets.fingerprint(refresh_token),
            now=self._clock.now(),
            ttl=self._policy.refresh_ttl,
            device=client.device,
            ip=client.ip,
        )
        await self._sessions.add(session)
        return OpenedSession(session=session, refresh_token=refresh_token)

    async def sign_in(self, user: User, client: ClientInfo) -> OpenedSession:
        """`open`, and record `UserSignedIn` on `user`, so they hear of sign-ins not theirs.

        The caller tracks `user` in its unit of work, which writes the event.
        """
        opened = await self.open(user, client)
        session = opened.session
        user.signed_in(
            session_id=str(session.id), device=session.device, ip=session.ip, now=self._clock.now()
        )
        return opened

    def hand_over(self, user: User, opened: OpenedSession, *, account: str) -> SignedIn:
        """The account with the session's access and refresh tokens, and a device token.

        `account` is what the device token is bound to: the email, as normalized.
        """
        token = self._tokens.issue_access_token(
            user_id=user.id, role=user.role, session_id=opened.session.id
        )
        return SignedIn.of_sign_in(
            AuthenticatedUser.of(user, token, opened.refresh_token), self._devices.issue(account)
        )
