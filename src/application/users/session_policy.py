"""How long sign-in sessions last, and opening one."""

from dataclasses import dataclass
from datetime import timedelta

from application.common.ports.clock import Clock
from application.common.ports.ids import IdGenerator
from application.common.ports.opaque_tokens import OpaqueTokens
from application.users.ports import SessionRepository
from domain.users.session import Session
from domain.users.values import UserId


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionPolicy:
    """How long sessions last.

    A session lives `refresh_ttl` past its last refresh, and never more than `max_lifetime`
    after sign-in; then the user signs in again. A refresh token presented again within
    `reuse_grace` of its rotation, by the client that rotated it, is answered as it was the
    first time rather than treated as stolen; a zero `reuse_grace` treats every repeat so.
    """

    refresh_ttl: timedelta
    max_lifetime: timedelta
    reuse_grace: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        if self.reuse_grace < timedelta(0):
            raise ValueError("the reuse grace period cannot be negative")


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientInfo:
    """Where a sign-in comes from, shown back in the list of sessions."""

    device: str = "unknown"
    ip: str = "unknown"


async def open_session(
    *,
    user_id: UserId,
    client: ClientInfo,
    sessions: SessionRepository,
    secrets: OpaqueTokens,
    policy: SessionPolicy,
    clock: Clock,
    ids: IdGenerator,
) -> tuple[Session, str]:
    """Store a new session; return it with its refresh token (the only copy in clear)."""
    refresh_token = secrets.new_token()
    session = Session.open(
        id=ids.new_id(),
        user_id=user_id,
        token_hash=secrets.fingerprint(refresh_token),
        now=clock.now(),
        ttl=policy.refresh_ttl,
        device=client.device,
        ip=client.ip,
    )
    await sessions.add(session)
    return session, refresh_token
