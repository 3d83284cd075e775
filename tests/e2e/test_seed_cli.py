"""`portico seed` as an operator runs it, against PostgreSQL: counts, reruns, bad arguments."""

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from adapters.sqlalchemy.engine import to_psycopg_url
from tests.support.postgres import isolated_schema, run_alembic
from tests.support.server import PORTICO, clean_env, run_portico

pytestmark = pytest.mark.e2e

TABLES = ("users", "follows", "articles", "article_tags", "comments", "favorites", "outbox")
SMALL = ("--users", "5", "--articles", "10", "--comments", "20", "--seed", "3")
GENERATED_PASSWORD = re.compile(
    r"^password of the 5 demo users created \(sign in as <username>@example\.com\), "
    r"shown only this once: (?P<password>[A-Za-z0-9_-]{24})$"
)


@pytest.fixture(scope="module")
def seed_url(postgres_url: str) -> Iterator[str]:
    """A migrated schema of this module's own, so the counts are exactly what seeding made."""
    with isolated_schema(postgres_url, prefix="seed") as url:
        run_alembic(url, "upgrade", "head")
        yield url


@pytest.fixture
def env(seed_url: str, tmp_path: Path) -> dict[str, str]:
    return clean_env(DATABASE_URL=seed_url, DATA_DIR=str(tmp_path / "data"))


def row_counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(to_psycopg_url(url), poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            return {
                table: connection.execute(
                    sa.select(sa.func.count()).select_from(sa.table(table))
                ).scalar_one()
                for table in TABLES
            }
    finally:
        engine.dispose()


def test_seeding_twice_creates_the_data_once(
    seed_url: str, env: dict[str, str], tmp_path: Path
) -> None:
    first = run_portico("seed", *SMALL, env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    created = row_counts(seed_url)
    assert (created["users"], created["articles"], created["comments"]) == (5, 10, 20)
    assert created["follows"] > 0
    assert created["favorites"] > 0
    assert created["article_tags"] >= 10
    assert created["outbox"] == 0
    summary, password_line = first.stdout.splitlines()
    assert summary.startswith("created 5 users, 10 articles, 20 comments")
    generated = GENERATED_PASSWORD.match(password_line)
    assert generated, password_line
    assert generated["password"] not in first.stderr

    second = run_portico("seed", *SMALL, env=env, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert row_counts(seed_url) == created
    assert second.stdout.startswith("created 0 users, 0 articles, 0 comments, 0 follows and 0")
    assert len(second.stdout.splitlines()) == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ("--users", "0"),
            "portico: --users must be between 1 and 100000; pass a number in that range",
        ),
        (
            ("--articles", "0", "--comments", "5"),
            (
                "portico: --comments requires at least one article; "
                "pass --articles 1 or more, or --comments 0"
            ),
        ),
    ],
)
def test_a_bad_argument_exits_2_with_one_line(
    env: dict[str, str], tmp_path: Path, arguments: tuple[str, ...], message: str
) -> None:
    result = run_portico("seed", *arguments, env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [message]
    assert result.stdout == ""


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
        (
            "",
            (
                "portico: no password on standard input; pipe one line holding it in, "
                "or leave out --password-stdin to have one generated"
            ),
        ),
    ],
)
def test_a_bad_password_on_stdin_exits_2_with_one_line_and_writes_nothing(
    seed_url: str, env: dict[str, str], tmp_path: Path, stdin: str, message: str
) -> None:
    before = row_counts(seed_url)
    result = subprocess.run(
        [PORTICO, "seed", *SMALL, "--password-stdin"],
        input=stdin,
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [message]
    assert result.stdout == ""
    assert row_counts(seed_url) == before


def test_a_password_is_never_taken_on_the_command_line(env: dict[str, str], tmp_path: Path) -> None:
    result = run_portico("seed", *SMALL, "--password", "password123", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "No such option: --password" in result.stderr
    assert result.stdout == ""
