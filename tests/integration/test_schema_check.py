"""`portico serve` refuses a schema that lacks migrations the code needs, and no other."""

import sqlalchemy as sa
from alembic.script import ScriptDirectory

from adapters.sqlalchemy.engine import to_psycopg_url
from entrypoints.cli.db import alembic_config, schema_behind
from tests.support.postgres import isolated_schema, run_alembic


def _head(url: str) -> str:
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert head is not None
    return head


def test_an_empty_schema_is_behind(postgres_url: str) -> None:
    with isolated_schema(postgres_url, prefix="behind") as url:
        assert (
            schema_behind(url)
            == f"the database schema is at no migration, this code needs {_head(url)}"
        )


def test_a_schema_one_migration_short_is_behind_and_a_migrated_one_is_not(
    postgres_url: str,
) -> None:
    with isolated_schema(postgres_url, prefix="behind") as url:
        run_alembic(url, "upgrade", "head")
        assert schema_behind(url) is None
        run_alembic(url, "downgrade", "-1")
        behind = schema_behind(url)
        assert behind is not None
        assert behind.endswith(f"this code needs {_head(url)}")
        assert "no migration" not in behind


def test_a_schema_a_newer_release_migrated_is_served(postgres_url: str) -> None:
    """A rolling deploy runs the old release on the new schema for a while."""
    with isolated_schema(postgres_url, prefix="ahead") as url:
        run_alembic(url, "upgrade", "head")
        engine = sa.create_engine(to_psycopg_url(url), poolclass=sa.NullPool)
        with engine.begin() as connection:
            connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
        engine.dispose()
        assert schema_behind(url) is None
