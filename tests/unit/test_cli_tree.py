"""The `portico` command tree: plain help, one-line errors, and nothing loaded before a run.

Runs the tree in-process (typer's CliRunner); the commands that would touch a database are
stopped at their door. tests/e2e/test_cli_bad_input.py runs the real executable.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer._click.exceptions import NoArgsIsHelpError, NoSuchOption, UsageError
from typer.testing import CliRunner, Result

from entrypoints.cli import db as db_cli
from entrypoints.cli.commands import app

CLEAN = {
    "APP_ENV": None,
    "JWT_SECRET": None,
    "AUDIT_SIGNING_KEY": None,
    "DATABASE_URL": None,
    "PORTICO_ENV_FILE": None,
}

USAGE_ERRORS = [
    (["seed", "--bogus"], "No such option: --bogus", "portico seed"),
    (["seed", "--users"], "Option '--users' requires an argument", "portico seed"),
    (["seed", "--users", "many"], "Invalid value for '--users'", "portico seed"),
    (["serve", "--port", "70000"], "Invalid value for '--port'", "portico serve"),
    (["serve", "--workers", "0"], "Invalid value for '--workers'", "portico serve"),
    (["serve", "--port"], "Option '--port' requires an argument", "portico serve"),
    (["worker", "--frobnicate"], "No such option: --frobnicate", "portico worker"),
    (["scheduler", "extra"], "Got unexpected extra argument(s) (extra)", "portico scheduler"),
    (["db", "upgrade", "--x"], "No such option: --x", "portico db upgrade"),
    (["db", "downgrade", "--x"], "Invalid value for 'REVISION'", "portico db downgrade"),
    (["db", "revision"], "Missing option '--message'", "portico db revision"),
    (["db", "frobnicate"], "No such command 'frobnicate'", "portico db"),
    (["config", "show", "--yaml"], "No such option: --yaml", "portico config show"),
    (["config", "check", "--strict"], "No such option: --strict", "portico config check"),
    (["users", "create-admin", "--email", "a@b.example"], "Missing option", "portico users"),
    (["users", "set-role", "someone", "overlord"], "'overlord' is not a role", "portico users"),
    (["users", "ban"], "Missing argument 'USERNAME'", "portico users ban"),
    (["users", "unban", "a", "b"], "Got unexpected extra argument(s) (b)", "portico users unban"),
    (["outbox", "replay"], "Missing option '--since'", "portico outbox replay"),
    (["outbox", "purge", "--retention-seconds", "-5"], "Invalid value", "portico outbox purge"),
    (["push", "keys", "--force"], "No such option: --force", "portico push keys"),
    (["files", "gc", "--force"], "No such option: --force", "portico files gc"),
    (["files", "stats", "all"], "Got unexpected extra argument(s) (all)", "portico files stats"),
    (["files", "du"], "No such command 'du'", "portico files"),
    (["frobnicate"], "No such command 'frobnicate'", "portico"),
    (["--verbose", "--quiet"], "No such option: --quiet", "portico"),
]


@pytest.fixture(autouse=True)
def nothing_configured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for variable in CLEAN:
        monkeypatch.delenv(variable, raising=False)


def invoke(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env, input=stdin)


@pytest.mark.parametrize(
    ("args", "what", "command"), USAGE_ERRORS, ids=[" ".join(case[0]) for case in USAGE_ERRORS]
)
def test_a_usage_error_is_one_line_naming_the_help_and_exits_2(
    args: list[str], what: str, command: str
) -> None:
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith("portico: ")
    assert what in line
    assert line.endswith("--help'")
    assert f"; see '{command}" in line
    assert result.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["serve"],
        ["worker"],
        ["scheduler"],
        ["seed"],
        ["db"],
        ["db", "downgrade"],
        ["db", "revision"],
        ["config"],
        ["config", "show"],
        ["users"],
        ["users", "create-admin"],
        ["users", "set-role"],
        ["outbox"],
        ["outbox", "purge"],
        ["push"],
        ["files"],
        ["files", "stats"],
        ["files", "gc"],
    ],
    ids=lambda args: " ".join(args) or "portico",
)
def test_help_is_plain_with_defaults_and_no_type_noise(args: list[str]) -> None:
    result = invoke(*args, "--help")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Usage: portico")
    for noise in ("<bool>", "<str>", "<int>", "╭", "│", "TEXT", "INTEGER"):
        assert noise not in result.stdout


def test_help_shows_the_defaults() -> None:
    assert "[default: APP_PORT]" in invoke("serve", "--help").stdout
    assert "[default: 10]" in invoke("seed", "--help").stdout
    assert "[default: -1]" in invoke("db", "downgrade", "--help").stdout


def test_completion_is_installable() -> None:
    help_text = invoke("--help").stdout
    assert "--install-completion" in help_text
    assert "--show-completion" in help_text


@pytest.mark.parametrize("revision", ["-1", "-3", "base", "ae1027a6acf"])
def test_downgrade_takes_a_relative_revision_without_a_double_dash(
    monkeypatch: pytest.MonkeyPatch, revision: str
) -> None:
    ran: list[tuple[str, str | None]] = []
    monkeypatch.setattr(db_cli, "_run", lambda action, rev=None, **_: ran.append((action, rev)))
    result = invoke("db", "downgrade", revision)
    assert result.exit_code == 0, result.output
    assert ran == [("downgrade", revision)]


def test_create_admin_without_a_terminal_says_to_use_password_stdin() -> None:
    result = invoke("users", "create-admin", "--email", "a@b.example", "--username", "root")
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("portico: no terminal to prompt for the password; ")
    assert "--password-stdin" in line
    assert "Warning" not in result.output


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda tmp: tmp / "missing.env", "no such file"),
        (lambda tmp: tmp, "a directory, not a file"),
        (lambda tmp: _written(tmp / "latin1.env", b"APP_NAME=caf\xe9\n"), "codec can't decode"),
    ],
    ids=["missing", "directory", "not-utf8"],
)
@pytest.mark.parametrize("command", [["config", "check"], ["config", "show"], ["seed"]])
def test_an_unreadable_portico_env_file_exits_2_with_one_line(
    tmp_path: Path, make: object, problem: str, command: list[str]
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    result = invoke(*command, env={"PORTICO_ENV_FILE": str(path)})
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"portico: configuration error: PORTICO_ENV_FILE: cannot read '{path}'")
    assert problem in line
    assert line.endswith("; point PORTICO_ENV_FILE at a readable file, or unset it")


def _written(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def test_config_show_names_each_source_and_prints_whole_values(tmp_path: Path) -> None:
    long_name = "n" * 150
    env_file = tmp_path / "settings.env"
    env_file.write_text(f"APP_NAME={long_name}\nAPP_PORT=9100\nJWT_SECRET={'k' * 40}\n")
    result = invoke(
        "config",
        "show",
        env={"PORTICO_ENV_FILE": str(env_file), "APP_PORT": "9200", "LOG_FORMAT": ""},
    )
    assert result.exit_code == 0, result.output
    rows = {
        variable: rest
        for variable, *rest in (re.split(r"\s{2,}", line) for line in result.stdout.splitlines())
    }
    assert rows["variable"] == ["source", "value"]
    assert rows["APP_NAME"] == ["env file", long_name]
    assert rows["APP_PORT"] == ["environment", "9200"]
    assert rows["LOG_FORMAT"] == ["default", "text"]
    assert rows["JWT_SECRET"] == ["env file", "***"]
    assert "k" * 40 not in result.stdout


def test_config_show_json_is_machine_readable_with_secrets_masked(tmp_path: Path) -> None:
    result = invoke(
        "config",
        "show",
        "--json",
        env={
            "APP_PORT": "9300",
            "JWT_SECRET": "s" * 40,
            "DATABASE_URL": "postgresql://app:db-pw-123@db:5432/x",
        },
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["APP_PORT"] == {"value": 9300, "source": "environment"}
    assert shown["APP_ENV"] == {"value": "development", "source": "default"}
    assert shown["JWT_SECRET"] == {"value": "***", "source": "environment"}
    assert "db-pw-123" not in result.stdout
    assert shown["DATABASE_URL"]["value"] == "postgresql://app:***@db:5432/x"


def test_building_the_tree_loads_no_application_adapter_or_driver() -> None:
    """`portico --help` pays for typer and the tree only (bench/cli.py times it)."""
    probe = (
        "import sys\n"
        "import entrypoints.cli.commands\n"
        "heavy = ('sqlalchemy', 'psycopg', 'alembic', 'litestar', 'redis', 'granian', 'dishka',\n"
        "         'loguru', 'pydantic', 'rich', 'application', 'adapters', 'entrypoints.ioc',\n"
        "         'entrypoints.config', 'entrypoints.bootstrap', 'asyncio')\n"
        "print(sorted({m for m in sys.modules if m.split('.')[0] in heavy or m in heavy\n"
        "             or any(m.startswith(h + '.') for h in heavy)}))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"


def test_the_parser_errors_are_where_the_tree_expects_them() -> None:
    """entrypoints/cli/tree.py imports them from typer's vendored click, not re-exported."""
    assert issubclass(NoSuchOption, UsageError)
    assert issubclass(NoArgsIsHelpError, UsageError)
    assert UsageError.exit_code == 2
    assert NoSuchOption("--x", possibilities=["--y"]).possibilities == ["--y"]
