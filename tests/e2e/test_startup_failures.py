"""Bad configuration and missing dependencies stop `portico` with one line and an exit code."""

import socket
from pathlib import Path

import pytest

from tests.support.network import closed_port, free_port
from tests.support.postgres import isolated_schema
from tests.support.server import clean_env, run_portico

pytestmark = pytest.mark.e2e


def test_an_unreachable_database_is_named_in_one_line(tmp_path: Path) -> None:
    url = f"postgresql://nope@127.0.0.1:{closed_port()}/x"
    result = run_portico("serve", env=clean_env(DATABASE_URL=url), cwd=tmp_path)
    assert result.returncode == 3
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("portico: database postgresql://nope@127.0.0.1:")
    assert "unreachable" in line


def test_a_schema_behind_the_code_stops_serve_in_one_line(
    tmp_path: Path, postgres_url: str
) -> None:
    with isolated_schema(postgres_url, prefix="unmigrated") as url:
        result = run_portico(
            "serve", "--port", str(free_port()), env=clean_env(DATABASE_URL=url), cwd=tmp_path
        )
    assert result.returncode == 3
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("portico: the database schema is at no migration, this code needs ")
    assert line.endswith("; run 'portico db upgrade' first")


def test_the_database_password_is_hidden_in_the_error(tmp_path: Path) -> None:
    url = f"postgresql://user:s3cr3t-pw@127.0.0.1:{closed_port()}/x"
    result = run_portico("db", "upgrade", env=clean_env(DATABASE_URL=url), cwd=tmp_path)
    assert result.returncode == 3
    assert "s3cr3t-pw" not in result.stderr + result.stdout
    assert "user:***@" in result.stderr


def test_production_with_a_short_jwt_secret_exits_2_naming_it(tmp_path: Path) -> None:
    env = clean_env(JWT_SECRET="short", APP_ENV="production")
    result = run_portico("serve", env=env, cwd=tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "JWT_SECRET" in line
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [("APP_PORT", "eighty"), ("APP_ENV", "staging"), ("LOG_FORMAT", "xml"), ("DATABASE_URL", "x")],
)
def test_an_invalid_value_exits_2_naming_the_variable(
    tmp_path: Path, variable: str, value: str
) -> None:
    result = run_portico("serve", env=clean_env(**{variable: value}), cwd=tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert variable in line


def test_the_env_file_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("APP_ENV=production\nJWT_SECRET=short\n")
    result = run_portico("config", "check", env=clean_env(), cwd=tmp_path)
    assert result.returncode == 2
    assert "JWT_SECRET" in result.stderr


@pytest.mark.parametrize("variable", ["JWT_SECRET", "AUDIT_SIGNING_KEY"])
def test_config_show_masks_secrets(tmp_path: Path, variable: str) -> None:
    secret = "k" * 40
    result = run_portico("config", "show", env=clean_env(**{variable: secret}), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert secret not in result.stdout
    assert variable in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["serve", "--help"],
        ["db", "--help"],
        ["db", "upgrade", "--help"],
        ["db", "downgrade", "--help"],
        ["db", "current", "--help"],
        ["db", "revision", "--help"],
        ["config", "show", "--help"],
    ],
)
def test_every_command_has_help(tmp_path: Path, args: list[str]) -> None:
    result = run_portico(*args, env=clean_env(), cwd=tmp_path)
    assert result.returncode == 0
    assert "Usage" in result.stdout


def test_an_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    assert run_portico("frobnicate", env=clean_env(), cwd=tmp_path).returncode == 2


def test_a_port_already_in_use_is_named_in_one_line(tmp_path: Path, migrated_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_portico(
            "serve", "--port", str(port), env=clean_env(DATABASE_URL=migrated_url), cwd=tmp_path
        )
    assert result.returncode == 3
    (line,) = result.stderr.strip().splitlines()
    assert f"127.0.0.1:{port} is already in use" in line


def test_config_show_hides_url_passwords(tmp_path: Path) -> None:
    env = clean_env(
        DATABASE_URL="postgresql://app:db-pw-123@db:5432/x", REDIS_URL="redis://:rd-pw-456@r:6379/0"
    )
    result = run_portico("config", "show", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "db-pw-123" not in result.stdout
    assert "rd-pw-456" not in result.stdout
