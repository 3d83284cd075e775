"""The audit log's settings as the use cases need them."""

from dataclasses import dataclass, field
from datetime import timedelta

MAX_PAGE = 100
DEFAULT_PAGE = 20
COUNT_CAP = 10_000
"""A page's count stops here: an exact count of a broad filter would scan the whole log."""
MAX_RANGE = timedelta(days=366)
"""The widest time range one query may name; a wider one is refused, not slowly served."""
SECURITY_ACTIONS = (
    "user.register",
    "user.create_admin",
    "user.login",
    "user.logout",
    "user.logout_all",
    "user.update",
    "user.password_reset_issue",
    "user.password_reset",
    "user.email_verify",
    "user.verification_resend",
    "user.email_restore",
    "user.role_change",
    "user.ban",
    "user.unban",
    "session.refresh",
    "session.revoke",
    "phone.set",
    "phone.verify",
    "phone.remove",
    "push.subscribe",
    "push.unsubscribe",
)
"""What `GET /api/user/activity` shows a user of their own account's history.

A reset link asked for is listed by the job that mailed it (`user.password_reset_issue`):
the request itself (`user.password_reset_request`) names no account, by design."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditPolicy:
    """The key that signs checkpoints and cursors, and how long entries are kept."""

    signing_key: bytes = field(repr=False)
    retention: timedelta
    archive_batch: int = 10_000

    def __post_init__(self) -> None:
        if len(self.signing_key) < 32:
            raise ValueError("the audit signing key needs at least 32 bytes")
