"""Declaring what a use case does, once, so every run of it leaves an audit entry.

A use case declares its action with the `audited` class decorator::

    @audited("article.update", target="article", target_id=lambda command: command.slug)
    class UpdateArticle: ...

Then each call runs in an `AuditScope`, and:

- each commit of its unit of work writes one entry in that same transaction, with outcome
  ``success``, the target, and the field changes its aggregates noted; so a change without
  its entry, or an entry without its change, cannot exist;
- a commit that records a refusal (``commit(refusing=error)``, as a refresh-token reuse
  revokes the session and then refuses) writes the entry with that refusal's outcome;
- a call that raises a denial or a failure (`outcome_of`) writes an entry in a transaction
  of its own, after its own was rolled back, so the rollback does not erase it.

The target's id is the one the use case named with `identify_target` once it found it,
else `target_id` when given (a function of the command), else the first event its
aggregates raised on an aggregate of the `target` type.

Internal bookkeeping that nobody asked for (relaying the outbox, recording a delivery
attempt) declares `not_audited` with its reason instead, so every use case that writes
says which it is.
"""

import functools
import logging
import re
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from application.audit.context import acting_as, actor_now, client_now, current_client
from application.common.correlation import current_request_id
from application.common.errors import (
    AuthenticationRequiredError,
    ConcealedDenialError,
    ConnectionLostError,
    DependencyUnavailableError,
    InvalidCredentialsError,
    InvalidInputError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    TooManyRequestsError,
)
from domain.audit.entry import ACTION_PATTERN, AuditActor, AuditRecord, Outcome
from domain.notifications.phone import PhoneCodeError
from domain.shared.changes import FieldChange
from domain.shared.errors import DomainError
from domain.shared.events import DomainEvent

_log = logging.getLogger(__name__)
_ACTION = re.compile(ACTION_PATTERN)
AUDIT_ATTRIBUTE = "audit_action"
"""The class attribute `audited` sets, naming the use case's `AuditAction`."""
EXEMPTION_ATTRIBUTE = "audit_exemption"
"""The class attribute `not_audited` sets: why the use case writes no entry."""

DENIALS: tuple[type[Exception], ...] = (
    AuthenticationRequiredError,
    InvalidCredentialsError,
    PermissionDeniedError,
    TooManyRequestsError,
    ConcealedDenialError,
    PhoneCodeError,
)
"""Refusals of who the caller is or what they may do: always recorded as ``denied``.

A wrong phone code is one (a guess at a secret), though it reads as bad input."""
UNRECORDED: tuple[type[Exception], ...] = (DomainError, InvalidInputError, NotFoundError)
"""Input refused before anything happened, and plain misses: nothing was attempted on
anything that exists, and the access log has them. Recording them would let any client
turn malformed requests into audit writes."""


def outcome_of(error: BaseException) -> Outcome | None:
    """The outcome an error gives its attempt; None when it is not recorded.

    Anything else (a conflict, an outage, an unexpected error) is ``failed``.
    """
    if isinstance(error, DENIALS):
        return Outcome.DENIED
    if isinstance(error, UNRECORDED):
        return None
    return Outcome.FAILED


def reason_of(error: BaseException) -> str:
    """A short, stable code for an error: ``NotArticleAuthorError`` is ``not_article_author``."""
    name = type(error).__name__.removesuffix("Error")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditAction:
    """What a use case declares: its action, its target's type and how to find its id.

    `denials_only` is for use cases that change nothing themselves (reads): only their
    refusals are recorded.
    """

    action: str
    target_type: str
    target_id: Callable[[Any], object] | None = None
    denials_only: bool = False

    def __post_init__(self) -> None:
        if not _ACTION.match(self.action):
            raise ValueError(f"an audit action is `context.verb`, not {self.action!r}")


@dataclass(slots=True, eq=False)
class AuditScope:
    """One call of an audited use case, from start to finish."""

    declared: AuditAction
    command: object
    events: list[DomainEvent] = field(default_factory=list)
    changes: list[FieldChange] = field(default_factory=list)
    refusal: BaseException | None = None
    found_target_id: str | None = None
    found_actor: AuditActor | None = None

    def record(self, *, now: datetime, outcome: Outcome, reason: str | None = None) -> AuditRecord:
        """The entry for this call as it ends now."""
        client = client_now()
        return AuditRecord(
            occurred_at=now,
            actor=self.found_actor or actor_now(),
            action=self.declared.action,
            target_type=self.declared.target_type,
            target_id=self._target_id(),
            outcome=outcome,
            reason=reason,
            changes=tuple(self.changes),
            request_id=current_request_id.get(),
            client_ip=client.ip,
            user_agent=client.user_agent,
        )

    def committed(
        self,
        events: Sequence[DomainEvent],
        changes: Sequence[FieldChange],
        *,
        now: datetime,
        refusing: BaseException | None,
    ) -> AuditRecord | None:
        """The entry a commit writes for this call, or None when it writes none."""
        self.events.extend(events)
        self.changes.extend(changes)
        if refusing is not None:
            self.refusal = refusing
            outcome = outcome_of(refusing) or Outcome.FAILED
            return self.record(now=now, outcome=outcome, reason=reason_of(refusing))
        if self.declared.denials_only:
            return None
        return self.record(now=now, outcome=Outcome.SUCCESS)

    def _target_id(self) -> str | None:
        if self.found_target_id is not None:
            return self.found_target_id
        resolve = self.declared.target_id
        if resolve is not None:
            try:
                value = resolve(self.command)
            except (AttributeError, TypeError, ValueError):
                value = None
            return None if value is None else str(value)
        for event in self.events:
            if event.aggregate_type == self.declared.target_type:
                return event.aggregate_id
        return None


_current_scope: ContextVar[AuditScope | None] = ContextVar("current_audit_scope", default=None)


def current_scope() -> AuditScope | None:
    """The audited call running in this task, if any."""
    return _current_scope.get()


def identify_target(target_id: object) -> None:
    """Name the target of the audited call running now, once the use case has found it.

    For a use case whose command does not name its target (a sign-in names an email, a
    refresh a token): its entry, and a refusal raised after this, carry `target_id`.
    Outside an audited call this does nothing.
    """
    scope = _current_scope.get()
    if scope is not None:
        scope.found_target_id = str(target_id)


def identify_actor(actor: AuditActor) -> None:
    """Name who acts in the audited call running now, once the use case knows better.

    A refresh comes from an anonymous caller holding a refresh token: once the token names
    its session, the act is its owner's. Outside an audited call this does nothing.
    """
    scope = _current_scope.get()
    if scope is not None:
        scope.found_actor = actor


@contextmanager
def acting_on_its_own(actor: AuditActor) -> Iterator[None]:
    """Run a job or an event handler as an act of its own, by `actor`.

    An in-process job starts as a task of the request that enqueued it, and a task inherits
    its creator's context variables: without this, it would act inside that request's audit
    scope, from that request's client. Inside the block there is no scope and no client;
    the request id stays, tying the job to the request that caused it.
    """
    scope_token = _current_scope.set(None)
    client_token = current_client.set(None)
    try:
        with acting_as(actor):
            yield
    finally:
        current_client.reset(client_token)
        _current_scope.reset(scope_token)


class RefusalRecorder(Protocol):
    """What an audited use case's unit of work offers for refusals: its own transaction."""

    async def record_refusal(self, record: AuditRecord) -> None:
        """Write `record` in a transaction of its own, now."""
        ...


class _Clocked(Protocol):
    def now(self) -> datetime: ...


UseCase = TypeVar("UseCase", bound=type)


def audited(
    action: str,
    *,
    target: str,
    target_id: Callable[[Any], object] | None = None,
    denials_only: bool = False,
) -> Callable[[UseCase], UseCase]:
    """Declare the use case's audit action; see the module's docstring.

    The use case keeps its unit of work in `_uow` and its clock in `_clock` (when it has
    one), which is where a refusal's entry is written and dated.
    """
    declared = AuditAction(
        action=action, target_type=target, target_id=target_id, denials_only=denials_only
    )

    def decorate(cls: UseCase) -> UseCase:
        call: Callable[..., Awaitable[Any]] = cls.__call__

        @functools.wraps(call)
        async def audited_call(self: object, *args: Any, **kwargs: Any) -> Any:
            command = args[0] if args else next(iter(kwargs.values()), None)
            scope = AuditScope(declared, command)
            token = _current_scope.set(scope)
            try:
                return await call(self, *args, **kwargs)
            except Exception as error:
                outcome = outcome_of(error)
                if outcome is not None and scope.refusal is not error:
                    await _record_refusal(self, scope, outcome, error)
                raise
            finally:
                _current_scope.reset(token)

        setattr(cls, "__call__", audited_call)  # noqa: B010 - a class attribute mypy cannot see
        setattr(cls, AUDIT_ATTRIBUTE, declared)
        return cls

    return decorate


def not_audited(reason: str) -> Callable[[UseCase], UseCase]:
    """Declare that the use case writes no entry, and why.

    For internal bookkeeping nobody asked for (relaying, delivery attempts), consequences
    of an act whose own entry records it, and reads that refuse no one; never for an act.
    """
    if not reason.strip():
        raise ValueError("say why the use case is not audited")

    def decorate(cls: UseCase) -> UseCase:
        setattr(cls, EXEMPTION_ATTRIBUTE, reason)
        return cls

    return decorate


def exemption_of(use_case: type) -> str | None:
    """Why `use_case` declared `not_audited`, if it did."""
    reason = getattr(use_case, EXEMPTION_ATTRIBUTE, None)
    return reason if isinstance(reason, str) else None


def declared_action(use_case: type) -> AuditAction | None:
    """What `use_case` declared with `audited`, if anything."""
    declared = getattr(use_case, AUDIT_ATTRIBUTE, None)
    return declared if isinstance(declared, AuditAction) else None


async def _record_refusal(
    use_case: object, scope: AuditScope, outcome: Outcome, error: Exception
) -> None:
    """Write the refusal's entry; a failure to write it is logged, never raised over `error`.

    A call that failed because the database connection died is not recorded: the entry
    could not be written either, and trying would only delay the answer.
    """
    if isinstance(error, (ConnectionLostError, OutcomeUnknownError)):
        return
    recorder: RefusalRecorder | None = getattr(use_case, "_uow", None)
    clock: _Clocked | None = getattr(use_case, "_clock", None)
    if recorder is None:
        _log.error("audited %s has no unit of work to record a refusal", type(use_case).__name__)
        return
    now = clock.now() if clock is not None else datetime.now(UTC)
    try:
        await recorder.record_refusal(
            scope.record(now=now, outcome=outcome, reason=reason_of(error))
        )
    except (DependencyUnavailableError, OSError) as unavailable:
        _log.warning(
            "could not record the %s refusal of %s: %s",
            outcome,
            scope.declared.action,
            unavailable,
        )
    except Exception:  # noqa: BLE001 - the refusal itself must reach the caller
        _log.exception("could not record the %s refusal of %s", outcome, scope.declared.action)
