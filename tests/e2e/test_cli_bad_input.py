"""The real `portico` executable on bad input: one line on stderr and the documented code.

Complements tests/unit/test_cli_tree.py (the tree in-process) with what only a process
shows: no TTY, a closed standard input, the environment's env file, and no traceback.
"""

import subprocess
from pathlib import Path

import pytest

from tests.support.network import closed_port
from tests.support.server import PORTICO, clean_env, run_portico

pytestmark = pytest.mark.e2e


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr
    assert "╭" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("portico: ")
    return line


def run_without_stdin(
    *args: str, env: dict[str, str], cwd: Path, closed: bool
) -> subprocess.CompletedProcess[str]:
    """`portico` with standard input on /dev/null, or closed altogether (`0<&-`)."""
    command = [PORTICO, *args]
    return subprocess.run(
        ["sh", "-c", '"$@" 0<&-', "sh", *command] if closed else command,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["seed", "--bogus"],
        ["serve", "--port", "0"],
        ["serve", "--workers"],
        ["db", "downgrade", "--bogus"],
        ["users", "set-role", "someone", "overlord"],
        ["outbox", "replay", "--since", "yesterday"],
        ["config", "show", "--yaml"],
        ["frobnicate"],
    ],
    ids=" ".join,
)
def test_bad_arguments_exit_2_with_one_line(tmp_path: Path, args: list[str]) -> None:
    result = run_portico(*args, env=clean_env(), cwd=tmp_path)
    assert result.returncode == 2
    one_line(result)
    assert result.stdout == ""


@pytest.mark.parametrize("closed", [False, True], ids=["devnull", "closed"])
def test_create_admin_without_a_terminal_names_password_stdin(tmp_path: Path, closed: bool) -> None:
    result = run_without_stdin(
        *("users", "create-admin", "--email", "a@b.example", "--username", "root"),
        env=clean_env(),
        cwd=tmp_path,
        closed=closed,
    )
    assert result.returncode == 2
    line = one_line(result)
    assert line.startswith("portico: no terminal to prompt for the password; ")
    assert "--password-stdin" in line


@pytest.mark.parametrize(
    ("command", "otherwise"),
    [(["users", "create-admin"], "to be prompted"), (["seed"], "to have one generated")],
    ids=["users create-admin", "seed"],
)
def test_password_stdin_on_a_closed_stdin_exits_2_with_one_line(
    tmp_path: Path, command: list[str], otherwise: str
) -> None:
    extra = ["--email", "a@b.example", "--username", "root"] if command[0] == "users" else []
    result = run_without_stdin(
        *command,
        *extra,
        "--password-stdin",
        env=clean_env(DATABASE_URL=f"postgresql://nobody@127.0.0.1:{closed_port()}/x"),
        cwd=tmp_path,
        closed=True,
    )
    assert result.returncode == 2
    assert one_line(result) == (
        "portico: no password on standard input; pipe one line holding it in, "
        f"or leave out --password-stdin {otherwise}"
    )


@pytest.mark.parametrize("target", ["/nonexistent/portico.env", "."])
def test_an_env_file_that_cannot_be_read_exits_2(tmp_path: Path, target: str) -> None:
    result = run_portico("config", "check", env=clean_env(PORTICO_ENV_FILE=target), cwd=tmp_path)
    assert result.returncode == 2
    assert one_line(result).startswith(
        f"portico: configuration error: PORTICO_ENV_FILE: cannot read '{target}'"
    )
    assert result.stdout == ""


def test_downgrade_minus_one_reaches_the_database_without_a_double_dash(tmp_path: Path) -> None:
    """Parsed as a revision, `-1` gets as far as the (unreachable) database: exit 3."""
    url = f"postgresql://nobody@127.0.0.1:{closed_port()}/x"
    result = run_portico("db", "downgrade", "-1", env=clean_env(DATABASE_URL=url), cwd=tmp_path)
    assert result.returncode == 3
    assert "unreachable" in one_line(result)


def test_help_and_completion_script_work_without_any_configuration(tmp_path: Path) -> None:
    env = clean_env(SHELL="/bin/bash")
    assert run_portico("--help", env=env, cwd=tmp_path).returncode == 0
    completion = run_portico("--show-completion", "bash", env=env, cwd=tmp_path)
    assert completion.returncode == 0, completion.stderr
    assert "_PORTICO_COMPLETE" in completion.stdout
