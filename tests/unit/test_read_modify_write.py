"""Every read-modify-write in the application locks what it reads, and every write that
reports whether it changed anything has that answer used (docs/decisions/0005).

Found by reading the source, so a new use case is checked the day it lands:
- a function that calls a repository's `save` must read under a lock: a call with
  ``for_update=True``, a read that always locks (`LOCKING_READS`), or a call to an
  application function that does one of those;
- a port method annotated to return `bool` says whether it changed something (a favorite
  added, a comment removed); awaiting one as a bare statement would throw that away, and
  with it the one-event-per-change rule.
"""

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

APPLICATION = Path(__file__).resolve().parents[2] / "src" / "application"
PORT_MODULES = sorted([*APPLICATION.glob("*/ports.py"), *APPLICATION.glob("*/ports/*.py")])
"""Every module that declares ports: each context's `ports.py`, and the shared `common/ports/`."""

LOCKING_READS = frozenset({"find_by_token_hash"})
"""Reads whose adapters always lock the row they return (see their port docstrings)."""


@dataclass(frozen=True)
class Function:
    module: Path
    node: ast.FunctionDef | ast.AsyncFunctionDef

    @property
    def name(self) -> str:
        return f"{self.module.relative_to(APPLICATION)}::{self.node.name}"


def _functions() -> Iterator[Function]:
    for module in sorted(APPLICATION.rglob("*.py")):
        tree = ast.parse(module.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield Function(module, node)


def _calls(node: ast.AST) -> Iterator[ast.Call]:
    return (child for child in ast.walk(node) if isinstance(child, ast.Call))


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    if isinstance(call.func, ast.Name):
        return call.func.id
    return None


def _is_locking_call(call: ast.Call) -> bool:
    return _called_name(call) in LOCKING_READS or any(
        keyword.arg == "for_update"
        and isinstance(keyword.value, ast.Constant)
        and keyword.value.value is True
        for keyword in call.keywords
    )


def _module_functions() -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    found: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for module in sorted(APPLICATION.rglob("*.py")):
        for node in ast.parse(module.read_text()).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                found[node.name] = node
    return found


def _locks(node: ast.AST, helpers: dict[str, ast.FunctionDef | ast.AsyncFunctionDef]) -> bool:
    for call in _calls(node):
        if _is_locking_call(call):
            return True
        name = _called_name(call)
        if (
            isinstance(call.func, ast.Name)
            and name in helpers
            and helpers[name] is not node
            and _locks(helpers[name], helpers)
        ):
            return True
    return False


def _saves(function: Function) -> bool:
    return any(
        isinstance(call.func, ast.Attribute)
        and call.func.attr == "save"
        and isinstance(call.func.value, ast.Attribute)
        and isinstance(call.func.value.value, ast.Name)
        and call.func.value.value.id == "self"
        for call in _calls(function.node)
    )


def read_modify_writes() -> list[Function]:
    """Every application function that writes an aggregate back with a repository."""
    return [function for function in _functions() if _saves(function)]


def change_reporting_methods() -> set[str]:
    """Names of port methods that return whether they changed anything."""
    names: set[str] = set()
    for module in PORT_MODULES:
        for node in ast.walk(ast.parse(module.read_text())):
            if (
                isinstance(node, ast.AsyncFunctionDef)
                and isinstance(node.returns, ast.Name)
                and node.returns.id == "bool"
            ):
                names.add(node.name)
    return names


def test_the_finder_sees_the_known_read_modify_writes() -> None:
    found = {function.name for function in read_modify_writes()}

    assert {
        "articles/update_article.py::__call__",
        "users/update_user.py::__call__",
        "users/revoke_session.py::__call__",
        "users/refresh_session.py::__call__",
        "notifications/update_notification_preferences.py::__call__",
        "users/ban_user.py::__call__",
    } <= found


def test_every_read_modify_write_reads_under_a_lock() -> None:
    helpers = _module_functions()

    unlocked = [f.name for f in read_modify_writes() if not _locks(f.node, helpers)]

    assert unlocked == [], (
        "these save an aggregate they did not read with for_update=True: a concurrent "
        f"change between the read and the write would be lost: {unlocked}"
    )


def test_the_finder_catches_an_unlocked_save() -> None:
    source = (
        "async def edit(self):\n"
        "    article = await self._articles.get_by_slug('a')\n"
        "    await self._articles.save(article)\n"
    )
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.AsyncFunctionDef)
    function = Function(APPLICATION / "articles" / "example.py", node)

    assert _saves(function)
    assert not _locks(function.node, {})


def test_the_changes_a_write_reports_are_never_thrown_away() -> None:
    reporting = change_reporting_methods()
    assert {"remove", "add_favorite", "remove_favorite", "add_follow", "remove_follow"} <= (
        reporting
    )

    ignored = [
        f"{function.name}: {statement.value.value.func.attr}"
        for function in _functions()
        for statement in ast.walk(function.node)
        if isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Await)
        and isinstance(statement.value.value, ast.Call)
        and isinstance(statement.value.value.func, ast.Attribute)
        and statement.value.value.func.attr in reporting
    ]

    assert ignored == [], f"a write's report of what it changed is ignored: {ignored}"
