"""Every use case that writes says what the audit log records of it, or why nothing (issue 14).

Found by importing every module of `application`, so a use case is checked the day it lands:
a class with an async `__call__` whose constructor takes a unit of work, or a port that
writes outside the database (a queue, a mailer, storage...), must declare `audited` or
`not_audited`. Declared actions are `context.verb`, one use case each, with a target id that
is never a secret, and the use case keeps its unit of work where a refusal is written from.
"""

import ast
import importlib
import inspect
import pkgutil
import re
import typing
from collections.abc import Callable, Iterator, Mapping
from types import ModuleType

import pytest

import application
from application.audit.capture import (
    AuditAction,
    audited,
    declared_action,
    exemption_of,
    not_audited,
)
from application.audit.policy import SECURITY_ACTIONS
from application.common.ports.clock import Clock
from application.common.ports.events import EventPublisher
from application.common.ports.realtime import RealtimeBroadcaster
from application.common.ports.task_queue import TaskQueue
from application.common.ports.unit_of_work import UnitOfWork
from application.files.ports import FileStorage
from application.notifications.ports import Mailer, PushSender, SmsSender
from domain.audit.entry import ACTION_PATTERN
from domain.shared.changes import is_secret_field

WRITING_PORTS: frozenset[object] = frozenset(
    {
        UnitOfWork,
        TaskQueue,
        EventPublisher,
        RealtimeBroadcaster,
        Mailer,
        SmsSender,
        PushSender,
        FileStorage,
    }
)
"""Ports through which a use case changes something: the database, or the world outside."""

AUDIT_MACHINERY: Mapping[str, str] = {
    "application.audit.record_denial.RecordDenial": "writes the entries of edge refusals: "
    "an entry about writing an entry would record the recorder",
    "application.audit.archive_audit_entries.ArchiveAuditEntries": "the retention "
    "checkpoint it signs and keeps is the record of what it archived and deleted",
    "application.audit.sign_audit_checkpoint.SignAuditCheckpoint": "the signed checkpoint "
    "it keeps is its record; an entry per interval would only pad the chain",
    "application.audit.seal_audit_entries.SealAuditEntries": "chains entries already "
    "written; an entry about each batch would itself wait for the next batch, forever",
}
"""The audit log's own writers, which the log records otherwise (or not at all), and why.

They may still declare `not_audited` themselves; this list only covers them until then.
"""

EXEMPT: frozenset[str] = frozenset(
    {
        "application.events.handle_event.HandleEvent",
        "application.events.relay_outbox.RelayOutbox",
        "application.files.file_usage.FileUsageReport",
        "application.files.list_article_images.ListArticleImages",
        "application.files.make_thumbnail.MakeThumbnail",
        "application.notifications.deliver_notification.DeliverNotification",
        "application.notifications.fan_out_to_followers.FanOutToFollowers",
        "application.notifications.notify_user.NotifyUser",
        "application.notifications.requeue_stale_deliveries.RequeueStaleDeliveries",
        "application.notifications.send_templated_email.SendTemplatedEmail",
        "application.notifications.send_templated_sms.SendTemplatedSms",
    }
)
"""Every use case declared `not_audited`: a new exemption is a decision, made here too."""

SHARED_ACTIONS: Mapping[str, str] = {}
"""Actions more than one use case may declare, and why; none so far."""


def _modules() -> Iterator[ModuleType]:
    for info in pkgutil.walk_packages(application.__path__, "application."):
        yield importlib.import_module(info.name)


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_use_case(cls: type) -> bool:
    """A concrete class with an async `__call__`: a protocol describes one, it is not one."""
    call = getattr(cls, "__call__", None)  # noqa: B004 - the method itself, not callability
    return inspect.iscoroutinefunction(call) and not getattr(cls, "_is_protocol", False)


def _use_cases() -> list[type]:
    found: dict[str, type] = {}
    for module in _modules():
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and value.__module__ == module.__name__
                and _is_use_case(value)
            ):
                found[_name(value)] = value
    bases = {base for cls in found.values() for base in cls.__mro__[1:] if _name(base) in found}
    return sorted((cls for cls in found.values() if cls not in bases), key=_name)


def _constructor(cls: type) -> Callable[..., None]:
    """The `__init__` the class runs: its own, or the nearest base's."""
    constructor: Callable[..., None] = next(
        klass.__dict__["__init__"] for klass in cls.__mro__ if "__init__" in klass.__dict__
    )
    return constructor


def _constructor_types(cls: type) -> dict[str, object]:
    hints = typing.get_type_hints(_constructor(cls))
    hints.pop("return", None)
    return hints


def _writes(cls: type) -> bool:
    return any(hint in WRITING_PORTS for hint in _constructor_types(cls).values())


def _undeclared(use_cases: list[type]) -> list[str]:
    return [
        _name(cls)
        for cls in use_cases
        if _writes(cls)
        and declared_action(cls) is None
        and exemption_of(cls) is None
        and _name(cls) not in AUDIT_MACHINERY
    ]


USE_CASES = _use_cases()
WRITERS = [cls for cls in USE_CASES if _writes(cls)]
AUDITED: list[tuple[type, AuditAction]] = [
    (cls, action) for cls in USE_CASES if (action := declared_action(cls)) is not None
]


def test_the_finder_sees_the_known_use_cases() -> None:
    names = {_name(cls) for cls in WRITERS}

    assert {
        "application.articles.update_article.UpdateArticle",
        "application.articles.favorite_article.FavoriteArticle",
        "application.users.refresh_session.RefreshSession",
        "application.users.request_password_reset.RequestPasswordReset",
        "application.files.read_file.ReadFile",
        "application.events.relay_outbox.RelayOutbox",
        "application.notifications.send_templated_sms.SendTemplatedSms",
    } <= names
    assert "application.articles.favorite_relation.FavoriteRelationUseCase" not in names, (
        "a base whose subclasses are the use cases is checked through them"
    )
    assert len(WRITERS) >= 60


def test_every_writing_use_case_declares_its_audit() -> None:
    assert _undeclared(USE_CASES) == [], (
        "these write but declare neither @audited(...) nor @not_audited(reason) "
        "(application.audit.capture)"
    )


def test_the_check_catches_a_new_writing_use_case_without_a_declaration() -> None:
    class Unannounced:
        def __init__(self, uow: UnitOfWork) -> None:
            self._uow = uow

        async def __call__(self, command: object) -> None:
            """Write something."""

    class Announced(Unannounced):
        pass

    class Reader:
        def __init__(self, clock: Clock) -> None:
            self._clock = clock

        async def __call__(self, command: object) -> None:
            """Read something."""

    announced = audited("example.write", target="example")(Announced)

    assert _undeclared([Unannounced, announced, Reader]) == [_name(Unannounced)]


def test_the_audit_machinery_allowance_names_only_real_undeclared_writers() -> None:
    by_name = {_name(cls): cls for cls in WRITERS}

    for name in AUDIT_MACHINERY:
        assert name in by_name, f"{name} is no longer a writing use case; drop it"
        if declared_action(by_name[name]) or exemption_of(by_name[name]):
            pytest.fail(f"{name} declares its audit now; drop it from AUDIT_MACHINERY")


def test_no_use_case_declares_both() -> None:
    both = [_name(cls) for cls, _ in AUDITED if exemption_of(cls) is not None]

    assert both == []


def test_the_exemptions_are_the_known_short_list() -> None:
    exempt = {_name(cls) for cls in USE_CASES if exemption_of(cls) is not None}

    assert exempt == EXEMPT


def test_every_exemption_says_why() -> None:
    for cls in USE_CASES:
        reason = exemption_of(cls)
        if reason is not None:
            assert len(reason.split()) >= 6, f"{_name(cls)} gives no real reason: {reason!r}"


def test_every_action_is_context_verb_and_every_target_a_type_name() -> None:
    for cls, action in AUDITED:
        assert re.match(ACTION_PATTERN, action.action), _name(cls)
        assert re.fullmatch(r"[a-z][a-z_]*", action.target_type), _name(cls)


def test_no_two_use_cases_declare_the_same_action() -> None:
    declared: dict[str, list[str]] = {}
    for cls, action in AUDITED:
        declared.setdefault(action.action, []).append(_name(cls))
    shared = {action: names for action, names in declared.items() if len(names) > 1}

    assert set(shared) == set(SHARED_ACTIONS), shared


def test_audited_use_cases_keep_their_unit_of_work_where_refusals_are_written() -> None:
    for cls, _ in AUDITED:
        types = _constructor_types(cls)
        source = inspect.getsource(_constructor(cls))
        uow = [name for name, hint in types.items() if hint is UnitOfWork]
        assert len(uow) == 1, f"{_name(cls)} takes no unit of work to write its entries"
        assert re.search(rf"self\._uow = {uow[0]}\b", source), f"{_name(cls)}: not self._uow"
        clocks = [name for name, hint in types.items() if hint is Clock]
        for clock in clocks:
            assert re.search(rf"self\._clock = {clock}\b", source), (
                f"{_name(cls)}: a refusal is dated by `self._clock`"
            )


def _names_read_by(resolve: Callable[[object], object]) -> list[str]:
    """The attributes, and the string keys, a target id resolver reads."""
    module = inspect.getmodule(resolve)
    assert module is not None
    first_line = resolve.__code__.co_firstlineno
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if isinstance(node, ast.Lambda | ast.FunctionDef) and node.lineno == first_line:
            keys = [
                key
                for inner in ast.walk(node)
                if isinstance(inner, ast.Subscript | ast.Call)
                for key in ([inner.slice] if isinstance(inner, ast.Subscript) else inner.args)
            ]
            return [inner.attr for inner in ast.walk(node) if isinstance(inner, ast.Attribute)] + [
                key.value
                for key in keys
                if isinstance(key, ast.Constant) and isinstance(key.value, str)
            ]
    pytest.fail(f"cannot find the source of {resolve!r}")


def test_no_target_id_is_read_from_a_secret() -> None:
    for cls, action in AUDITED:
        if action.target_id is None:
            continue
        secret = [name for name in _names_read_by(action.target_id) if is_secret_field(name)]
        assert secret == [], f"{_name(cls)} names its target by a secret: {secret}"


def test_the_secret_check_would_see_a_token_target() -> None:
    @audited("example.write", target="example", target_id=lambda command: command.token)
    class Careless:
        async def __call__(self, command: object) -> None:
            """Write something."""

    action = declared_action(Careless)
    assert action is not None
    assert action.target_id is not None
    assert [name for name in _names_read_by(action.target_id) if is_secret_field(name)] == ["token"]


def test_every_security_action_is_declared_by_a_use_case() -> None:
    declared = {action.action for _, action in AUDITED}

    assert set(SECURITY_ACTIONS) - declared == set()


def test_an_exemption_needs_a_reason() -> None:
    with pytest.raises(ValueError, match="why"):
        not_audited("  ")
