"""Who is calling: the identity an entrypoint established, handed to use cases explicitly."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain.users.values import Role, UserId


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """An authenticated caller, as the access token vouched for them."""

    user_id: UserId
    role: Role
    session_id: UUID | None = None
    expires_at: datetime | None = None
    username: str | None = None
