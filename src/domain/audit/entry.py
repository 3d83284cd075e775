"""An audit entry: one action by one actor on one target, and how it ended."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Self

from domain.shared.changes import FieldChange

ACTION_PATTERN = r"^[a-z][a-z_]*(\.[a-z][a-z_]*)+$"
"""``context.verb``, such as ``article.update`` or ``user.role_change``."""
MAX_TEXT_CHARS = 512
"""Free text an entry keeps from outside (a user agent, a reason) is cut to this."""


class Outcome(StrEnum):
    """How the attempt ended."""

    SUCCESS = "success"
    DENIED = "denied"
    FAILED = "failed"


class ActorKind(StrEnum):
    """Who acted: a signed-in user, an anonymous caller, or a process acting on its own."""

    USER = "user"
    ANONYMOUS = "anonymous"
    SYSTEM = "system"
    CLI = "cli"
    WORKER = "worker"


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditActor:
    """The actor of an entry; a user by id and their username at the time."""

    kind: ActorKind
    user_id: str | None = None
    username: str | None = None
    process: str | None = None

    @classmethod
    def user(cls, user_id: str, username: str | None) -> Self:
        """A signed-in user."""
        return cls(kind=ActorKind.USER, user_id=user_id, username=username)

    @classmethod
    def anonymous(cls) -> Self:
        """A caller who has not signed in (registering, signing in, resetting)."""
        return cls(kind=ActorKind.ANONYMOUS)

    @classmethod
    def process_of(cls, kind: ActorKind, process: str) -> Self:
        """A process acting on its own: ``cli`` with its command, ``worker`` or ``system``."""
        return cls(kind=kind, process=process)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditRecord:
    """What an entry says, before the chain gives it a place and a hash."""

    occurred_at: datetime
    actor: AuditActor
    action: str
    target_type: str
    target_id: str | None
    outcome: Outcome
    reason: str | None = None
    changes: tuple[FieldChange, ...] = ()
    request_id: str | None = None
    client_ip: str | None = None
    user_agent: str | None = None

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware")


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """A record in its place in the chain: `seq` orders every entry, `hash` links it.

    `previous_hash` is the hash of entry ``seq - 1`` as it was when this one was written,
    so a break can be placed: a changed entry fails its own hash, a rewritten or inserted
    one leaves the next entry pointing elsewhere.
    """

    seq: int
    record: AuditRecord
    previous_hash: bytes
    hash: bytes


def bounded_text(text: str | None) -> str | None:
    """Free text cut to `MAX_TEXT_CHARS`, so one header cannot bloat the log."""
    return None if text is None else text[:MAX_TEXT_CHARS]
