"""Use case: a user reads their own account's security history."""

from dataclasses import dataclass, replace

from application.audit.list_audit_entries import (
    AuditPage,
    check_limit,
    continued_from,
    split_page,
)
from application.audit.policy import DEFAULT_PAGE, SECURITY_ACTIONS, AuditPolicy
from application.audit.ports import AuditLog
from domain.audit.entry import ActorKind, AuditActor, AuditEntry, Outcome
from domain.users.values import UserId


@dataclass(frozen=True, slots=True, kw_only=True)
class ListOwnActivityCommand:
    """Whose history, and which page."""

    user_id: UserId
    cursor: str | None = None
    limit: int = DEFAULT_PAGE


def _without_others(entry: AuditEntry, user_id: str) -> AuditEntry:
    """The entry as its subject may see it: who else acted, and from where, is not theirs.

    An anonymous act that succeeded on the account (signing in, resetting the password)
    was the user's own, and shows whole. A refused one (a wrong password) may be anyone's,
    so its address and user agent are hidden with the rest.
    """
    record = entry.record
    if record.actor.user_id == user_id:
        return entry
    if record.actor.kind is ActorKind.ANONYMOUS and record.outcome is Outcome.SUCCESS:
        return entry
    someone = AuditActor(kind=record.actor.kind)
    hidden = replace(record, actor=someone, client_ip=None, user_agent=None, request_id=None)
    return replace(entry, record=hidden)


class ListOwnActivity:
    """A user's sign-ins, sessions, password, email and role changes, newest first.

    Rules:
    - Only entries the user made, or that were made to their account, and only the
      security actions (`SECURITY_ACTIONS`).
    - Someone else's act on the account (an admin's ban, a stranger's wrong password)
      shows what was done and when, not who did it or from where.
    """

    def __init__(self, log: AuditLog, policy: AuditPolicy) -> None:
        self._log = log
        self._policy = policy

    async def __call__(self, command: ListOwnActivityCommand) -> AuditPage:
        """A page of the history."""
        check_limit(command.limit)
        key = self._policy.signing_key
        user_id = str(command.user_id)
        entries = await self._log.of_user(
            user_id,
            SECURITY_ACTIONS,
            before_seq=continued_from(command.cursor, key),
            limit=command.limit + 1,
        )
        page, next_cursor = split_page(entries, command.limit, key)
        return AuditPage(
            entries=[_without_others(entry, user_id) for entry in page],
            next_cursor=next_cursor,
            count=len(page),
            count_capped=next_cursor is not None,
        )
