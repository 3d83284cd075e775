"""How long sign-in sessions last, and where one is opened from."""

from dataclasses import dataclass
from datetime import timedelta


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
