"""`portico seed` as an operator runs it, against PostgreSQL: counts, reruns, bad arguments."""

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from adapters.sqlalchemy.engine import to_psycopg_url
from tests.support.postgres import isolated_schema, run_alembic
from tests.support.server import clean_env, run_portico

pytestmark = pytest.mark.e2e

TABLES = ("users", "follows", "articles", "article_tags", "comments", "favorites", "outbox")
SMALL = ("--users", "5", "--articles", "10", "--comments", "20", "--seed", "3")


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
                table: connection.scalar(sa.select(sa.func.count()).select_from(sa.table(table)))
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
    assert first.stdout.startswith("created 5 users, 10 articles, 20 comments")

    second = run_portico("seed", *SMALL, env=env, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert row_counts(seed_url) == created
    assert second.stdout.startswith("created 0 users, 0 articles, 0 comments, 0 follows and 0")
    assert len(second.stdout.splitlines()) == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--users", "0"), "portico: --users must be between 1 and 100000"),
        (
            ("--articles", "0", "--comments", "5"),
            "portico: --comments requires at least one article",
        ),
        (("--password", "short"), "portico: --password is too short (minimum is 8 characters)"),
    ],
)
def test_a_bad_argument_exits_2_with_one_line(
    env: dict[str, str], tmp_path: Path, arguments: tuple[str, ...], message: str
) -> None:
    result = run_portico("seed", *arguments, env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [message]
    assert result.stdout == ""
