"""Every error `portico` prints: one line, `portico: <what is wrong>; <what to do>`.

Each case runs the command tree in-process (typer's CliRunner) up to the failure it is
about; what lies behind it (the database, Alembic, the container) is replaced by a stand-in
that fails the way the real one would. tests/e2e/test_cli_bad_input.py runs the executable.
"""

import ast
import re
import signal
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple, Self

import pytest
from alembic.util.exc import CommandError
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from typer.testing import CliRunner, Result

import adapters.embedded_postgres.server as embedded_server
import adapters.webpush.sender as webpush_sender
import entrypoints.cli.serve as serve_cli
from adapters.embedded_postgres.server import EmbeddedPostgresError
from adapters.sqlalchemy.errors import WriteConflictError
from application.common.errors import (
    DependencyUnavailableError,
    InvalidInputError,
    NotFoundError,
)
from application.demo.seed_content import NoDemoAuthorError
from application.users.errors import UsernameTakenError
from domain.shared.errors import DomainError
from entrypoints import bootstrap, ioc
from entrypoints.cli.commands import app
from tests.unit.test_cli_tree import CLEAN, USAGE_ERRORS

ERROR_LINE = re.compile(r"^portico: [^\n]+; [^\n]+$")
CLI_SOURCES = Path(__file__).resolve().parents[2] / "src" / "entrypoints" / "cli"
REACHABLE_DB = {"DATABASE_URL": "postgresql://app:db-pw-123@127.0.0.1:5432/portico"}
PRODUCTION = {
    "APP_ENV": "production",
    "JWT_SECRET": "s" * 48,
    "AUDIT_SIGNING_KEY": "a" * 48,
    "APP_PUBLIC_URL": "https://portico.example.com",
    **REACHABLE_DB,
}
Setup = Callable[[pytest.MonkeyPatch], None]


class Case(NamedTuple):
    """An invocation, what it needs set up, and the exit code its error line comes with."""

    args: list[str]
    code: int
    env: dict[str, str] | None = None
    stdin: str | None = None
    setup: Setup | None = None


class FailingContainer:
    """Stands in for the dishka container: its request scope raises `error` on first use."""

    def __init__(self, error: Exception) -> None:
        self._error = error

    def __call__(self) -> "FailingContainer":
        return self

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        return None

    async def get(self, _dependency: object) -> Any:
        raise self._error

    async def close(self) -> None:
        return None


def database_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bootstrap, "ensure_database_reachable", lambda _settings: None)


def database_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(_settings: object) -> None:
        message = "database postgresql://app:***@127.0.0.1:5432/portico is unreachable: refused"
        raise bootstrap.DatabaseUnreachableError(message)

    monkeypatch.setattr(bootstrap, "ensure_database_reachable", unreachable)


def use_case_raises(error: Exception) -> Setup:
    def setup(monkeypatch: pytest.MonkeyPatch) -> None:
        database_answers(monkeypatch)
        monkeypatch.setattr(ioc, "make_container", lambda _settings: FailingContainer(error))

    return setup


def migration_raises(error: Exception) -> Setup:
    def setup(monkeypatch: pytest.MonkeyPatch) -> None:
        database_answers(monkeypatch)

        def failing(*_args: object, **_kwargs: object) -> None:
            raise error

        for action in ("upgrade", "downgrade", "current", "history", "revision"):
            monkeypatch.setattr(f"alembic.command.{action}", failing)

    return setup


def embedded_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded_server, "embedded_postgres_installed", lambda: False)


def embedded_fails(message: str) -> Setup:
    def setup(monkeypatch: pytest.MonkeyPatch) -> None:
        def failing(*_args: object, **_kwargs: object) -> None:
            raise EmbeddedPostgresError(message)

        monkeypatch.setattr(bootstrap, "resolved_database", failing)

    return setup


def port_free_database_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serve_cli, "_port_is_free", lambda _address, _port: True)
    database_unreachable(monkeypatch)


def no_uvicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serve_cli, "find_spec", lambda _name: None)


def orm_error(kind: type[DBAPIError], message: str) -> Exception:
    return kind("SELECT 1", {}, Exception(message))


CASES: dict[str, Case] = {
    **{f"usage: {' '.join(args)}": Case(args, 2) for args, _what, _command in USAGE_ERRORS},
    "no terminal": Case(["users", "create-admin", "--email", "a@b.example", "--username", "r"], 2),
    "users: no password on stdin": Case(
        ["users", "create-admin", "--email", "a@b.example", "--username", "r", "--password-stdin"],
        2,
        stdin="",
    ),
    "seed: no password on stdin": Case(["seed", "--password-stdin"], 2, stdin=""),
    "seed: short password": Case(["seed", "--password-stdin"], 2, stdin="short\n"),
    "seed: too many users": Case(["seed", "--users", "100001"], 2),
    "seed: comments without articles": Case(["seed", "--articles", "0", "--comments", "1"], 2),
    "seed: production": Case(["seed"], 2, env=PRODUCTION),
    "seed: no demo author": Case(
        ["seed", "--password-stdin"],
        1,
        env=REACHABLE_DB,
        stdin="correct horse battery\n",
        setup=use_case_raises(NoDemoAuthorError()),
    ),
    "configuration: a setting": Case(["config", "check"], 2, env={"JWT_SECRET": "short"}),
    "configuration: a setting with its own hint": Case(
        ["config", "check"], 2, env={"REDIS_URL": "http://cache:6379"}
    ),
    "configuration: production rule": Case(
        ["config", "show"],
        2,
        env={"APP_ENV": "production", "JWT_SECRET": "s" * 48, "AUDIT_SIGNING_KEY": "a" * 48},
    ),
    "configuration: env file": Case(
        ["config", "check"], 2, env={"PORTICO_ENV_FILE": "/nonexistent/portico.env"}
    ),
    "worker: nothing to run": Case(["worker", "--no-relay", "--no-consumers", "--no-jobs"], 2),
    "outbox: bad time": Case(["outbox", "replay", "--since", "yesterday"], 2),
    "embedded: not installed": Case(["db", "current"], 2, setup=embedded_not_installed),
    "embedded: did not start": Case(
        ["outbox", "status"], 3, setup=embedded_fails("embedded PostgreSQL did not start")
    ),
    "embedded: other major version": Case(
        ["scheduler"],
        3,
        setup=embedded_fails("/d holds a PostgreSQL 16 cluster; move or delete that directory"),
    ),
    "database unreachable: db": Case(
        ["db", "upgrade"], 3, env=REACHABLE_DB, setup=database_unreachable
    ),
    "database unreachable: users": Case(
        ["users", "ban", "someone"], 3, env=REACHABLE_DB, setup=database_unreachable
    ),
    "database unreachable: serve": Case(
        ["serve"], 3, env=REACHABLE_DB, setup=port_free_database_unreachable
    ),
    "serve: no uvicorn": Case(["serve"], 2, env={"APP_SERVER": "uvicorn"}, setup=no_uvicorn),
    "migration: unknown revision": Case(
        ["db", "downgrade", "ae1027a6acf"],
        1,
        env=REACHABLE_DB,
        setup=migration_raises(CommandError("Can't locate revision identified by 'ae1027a6acf'")),
    ),
    "migration: database behind": Case(
        ["db", "revision", "-m", "x"],
        1,
        env=REACHABLE_DB,
        setup=migration_raises(CommandError("Target database is not up to date.")),
    ),
    "migration: refused by the database": Case(
        ["db", "upgrade"],
        1,
        env=REACHABLE_DB,
        setup=migration_raises(orm_error(ProgrammingError, 'relation "users" already exists')),
    ),
    "users: not found": Case(
        ["users", "ban", "nobody"],
        1,
        env=REACHABLE_DB,
        setup=use_case_raises(NotFoundError("not found", field="user")),
    ),
    "users: taken": Case(
        ["users", "create-admin", "--email", "a@b.example", "--username", "r", "--password-stdin"],
        1,
        env=REACHABLE_DB,
        stdin="correct horse battery\n",
        setup=use_case_raises(UsernameTakenError()),
    ),
    "users: write conflict": Case(
        ["users", "set-role", "someone", "moderator"],
        1,
        env=REACHABLE_DB,
        setup=use_case_raises(WriteConflictError()),
    ),
    "users: a rule": Case(
        ["users", "unban", "someone"],
        1,
        env=REACHABLE_DB,
        setup=use_case_raises(DomainError("is invalid", field="username")),
    ),
    "outbox: invalid input": Case(
        ["outbox", "replay", "--since", "2025-01-31T12:00:00+00:00"],
        1,
        env=REACHABLE_DB,
        setup=use_case_raises(InvalidInputError("is in the future", field="since")),
    ),
    "outbox: a service down": Case(
        ["outbox", "purge"],
        1,
        env=REACHABLE_DB,
        setup=use_case_raises(DependencyUnavailableError("is unavailable", field="bus")),
    ),
    "outbox: schema missing": Case(
        ["outbox", "status"],
        1,
        env=REACHABLE_DB,
        setup=use_case_raises(orm_error(ProgrammingError, 'relation "outbox" does not exist')),
    ),
    "outbox: database error": Case(
        ["outbox", "status"],
        1,
        env=REACHABLE_DB,
        setup=use_case_raises(orm_error(OperationalError, "server closed the connection\nagain")),
    ),
}


@pytest.fixture(autouse=True)
def nothing_configured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No settings from outside, and the signal handlers a command installs put back."""
    monkeypatch.chdir(tmp_path)
    for variable in {*CLEAN, "APP_SERVER", "REDIS_URL", "APP_PUBLIC_URL"}:
        monkeypatch.delenv(variable, raising=False)
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in handlers.items():
        signal.signal(signum, handler)


def invoke(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env, input=stdin)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_every_error_is_one_line_saying_what_is_wrong_and_what_to_do(
    monkeypatch: pytest.MonkeyPatch, case: Case
) -> None:
    if case.setup is not None:
        case.setup(monkeypatch)
    result = invoke(*case.args, env=case.env, stdin=case.stdin)
    assert result.exit_code == case.code, result.output
    assert result.stderr.endswith("\n")
    assert ERROR_LINE.fullmatch(result.stderr.removesuffix("\n")), result.stderr
    assert "Traceback" not in result.output


def test_a_port_in_use_says_to_free_it_or_pick_another(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = invoke("serve", "--host", "127.0.0.1", "--port", str(port))
    assert result.exit_code == 3, result.output
    assert result.stderr == (
        f"portico: 127.0.0.1:{port} is already in use; stop what listens there, "
        "or serve on another port (--port or APP_PORT)\n"
    )


def test_a_setting_says_where_to_fix_it() -> None:
    result = invoke("config", "check", env={"JWT_SECRET": "short"})
    assert result.exit_code == 2
    assert result.stderr == (
        "portico: configuration error: JWT_SECRET: must be at least 32 bytes for HS256, got 5; "
        "set JWT_SECRET in the environment or the env file (see docs/configuration.md)\n"
    )


def test_a_use_case_error_names_the_field_and_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    use_case_raises(NotFoundError("not found", field="user"))(monkeypatch)
    result = invoke("users", "ban", "nobody", env=REACHABLE_DB)
    assert result.exit_code == 1
    assert result.stderr == "portico: user not found; check the name and run the command again\n"


def test_the_cli_writes_no_failure_without_a_hint() -> None:
    """A literal handed to `fail` carries its `; <what to do>`, or is composed by a helper."""
    bare: list[str] = []
    for source in sorted(CLI_SOURCES.glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text())):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "fail"):
                continue
            message = node.args[0]
            if isinstance(message, ast.Name | ast.Call):
                continue  # composed by a *_line helper, which the cases above run
            text = "".join(
                part.value
                for part in ast.walk(message)
                if isinstance(part, ast.Constant) and isinstance(part.value, str)
            )
            if "; " not in text:
                bare.append(f"{source.name}:{node.lineno}")
    assert bare == []


def explode(*_args: object) -> Any:
    error = RuntimeError("the key generator broke\nwith a second line")
    raise error


def test_an_unexpected_error_is_one_line_and_exit_1_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(webpush_sender, "generate_vapid_keys", explode)
    result = invoke("push", "keys")
    assert result.exit_code == 1
    assert result.stderr == (
        "portico: unexpected error (RuntimeError: the key generator broke); "
        "this is a bug: rerun with -v for the traceback and report it\n"
    )
    assert result.stdout == ""


def test_an_unexpected_error_under_verbose_shows_the_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(webpush_sender, "generate_vapid_keys", explode)
    result = invoke("-v", "push", "keys")
    assert result.exit_code == 1
    assert result.stderr.startswith("Traceback (most recent call last):\n")
    assert "in explode" in result.stderr
    assert result.stderr.endswith(
        "RuntimeError: the key generator broke\nwith a second line\n"
        "portico: unexpected error (RuntimeError: the key generator broke); "
        "this is a bug: report it with the traceback above\n"
    )


def test_an_error_without_a_message_is_named_by_its_type(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def empty(*_args: object) -> Any:
        raise LookupError

    monkeypatch.setattr(webpush_sender, "generate_vapid_keys", empty)
    result = invoke("push", "keys")
    assert result.exit_code == 1
    assert result.stderr.startswith("portico: unexpected error (LookupError); this is a bug: ")


def test_an_interrupt_still_exits_130_quietly(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*_args: object) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(webpush_sender, "generate_vapid_keys", interrupted)
    result = invoke("push", "keys")
    assert result.exit_code == 130
    assert result.stderr == ""
