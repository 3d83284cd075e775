"""`portico seed`'s guards and password handling, with the use case on in-memory adapters.

Only the database wiring (`_seed`) is replaced: the command runs the real `SeedDemoContent`
over an in-memory world, so the printed password is checked against the stored hashes.
"""

import asyncio
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from application.demo.seed_content import SeedDemoContentCommand, SeedReport
from domain.users.values import Password
from entrypoints.cli import seed as seed_cli
from entrypoints.cli.commands import app
from tests.unit.test_seed_demo_content import SeedWorld

SMALL = ["seed", "--users", "3", "--articles", "2", "--comments", "4"]
PRODUCTION = {
    "APP_ENV": "production",
    "JWT_SECRET": "s" * 48,
    "AUDIT_SIGNING_KEY": "a" * 48,
    "DATABASE_URL": "postgresql://unused@127.0.0.1:1/unused",
    "APP_PUBLIC_URL": "https://portico.example.com",
}
NO_PASSWORD = (
    "portico: no password on standard input; pipe one line holding it in, "
    "or leave out --password-stdin to have one generated"
)
PASSWORD_LINE = re.compile(
    r"^password of the (?P<users>\d+) demo users created "
    r"\(sign in as <username>@example\.com\), shown only this once: (?P<password>\S+)$"
)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> SeedWorld:
    """An in-memory store in place of the database, and an environment with no settings."""
    world = SeedWorld()

    def seed_in_memory(command: SeedDemoContentCommand) -> SeedReport:
        return asyncio.run(world.seeder()(command))

    monkeypatch.setattr(seed_cli, "_seed", seed_in_memory)
    monkeypatch.chdir(tmp_path)
    for variable in (
        "APP_ENV",
        "JWT_SECRET",
        "AUDIT_SIGNING_KEY",
        "DATABASE_URL",
        "APP_PUBLIC_URL",
    ):
        monkeypatch.delenv(variable, raising=False)
    return world


def invoke(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env, input=stdin)


async def signs_in(world: SeedWorld, password: str) -> bool:
    hashes = {user.password_hash for user in world.users()}
    return len(hashes) == 1 and await world.hasher.verify(hashes.pop(), Password(password))


def test_production_is_refused_with_one_line_and_nothing_seeded(world: SeedWorld) -> None:
    result = invoke(*SMALL, env=PRODUCTION)
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line == (
        "portico: refusing to seed demo accounts with APP_ENV=production; "
        "pass --force-production to seed anyway"
    )
    assert result.stdout == ""
    assert world.users() == []


def test_production_is_seeded_when_forced(world: SeedWorld) -> None:
    result = invoke(*SMALL, "--force-production", env=PRODUCTION)
    assert result.exit_code == 0, result.output
    assert len(world.users()) == 3


async def test_a_generated_password_is_strong_printed_once_and_signs_in(
    world: SeedWorld,
) -> None:
    result = await asyncio.to_thread(invoke, *SMALL)
    assert result.exit_code == 0, result.output
    summary, password_line = result.stdout.splitlines()
    assert summary.startswith("created 3 users")
    printed = PASSWORD_LINE.match(password_line)
    assert printed, password_line
    assert printed["users"] == "3"
    assert len(printed["password"]) >= 24
    assert printed["password"] not in result.stderr
    assert await signs_in(world, printed["password"])


async def test_no_password_is_printed_when_no_user_was_created(world: SeedWorld) -> None:
    first = await asyncio.to_thread(invoke, *SMALL)
    again = await asyncio.to_thread(invoke, *SMALL)
    assert first.exit_code == again.exit_code == 0, again.output
    assert len(again.stdout.splitlines()) == 1
    assert again.stdout.startswith("created 0 users")
    first_password = PASSWORD_LINE.match(first.stdout.splitlines()[1])
    assert first_password
    assert await signs_in(world, first_password["password"])


async def test_a_password_on_stdin_is_used_and_never_printed(world: SeedWorld) -> None:
    result = await asyncio.to_thread(
        invoke, *SMALL, "--password-stdin", stdin="correct horse battery\n"
    )
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 1
    assert "correct horse" not in result.output
    assert await signs_in(world, "correct horse battery")


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        (
            "short\n",
            (
                "portico: the password on standard input is too short (minimum is 8 characters); "
                "pipe in a password of 8 to 256 characters, "
                "or leave out --password-stdin to have one generated"
            ),
        ),
        ("", NO_PASSWORD),
        ("\n", NO_PASSWORD),
    ],
)
def test_a_bad_password_on_stdin_exits_2_with_one_line(
    world: SeedWorld, stdin: str, message: str
) -> None:
    result = invoke(*SMALL, "--password-stdin", stdin=stdin)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [message]
    assert world.users() == []


def test_the_command_line_takes_no_password(world: SeedWorld) -> None:
    result = invoke(*SMALL, "--password", "password123")
    assert result.exit_code == 2
    assert world.users() == []
