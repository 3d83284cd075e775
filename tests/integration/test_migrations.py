"""Migrations go up, down and up again, and match the tables the code declares."""

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from adapters.sqlalchemy.engine import to_psycopg_url
from adapters.sqlalchemy.tables import metadata
from entrypoints.cli.db import alembic_config
from tests.support.postgres import isolated_schema, run_alembic, table_names

pytestmark = pytest.mark.integration


def revisions() -> list[str]:
    script = ScriptDirectory.from_config(alembic_config("postgresql://unused/x"))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


@pytest.mark.parametrize("revision", revisions())
def test_stairway_up_down_up(postgres_url: str, revision: str) -> None:
    script = ScriptDirectory.from_config(alembic_config("postgresql://unused/x"))
    down_revision = script.get_revision(revision).down_revision or "base"
    with isolated_schema(postgres_url, prefix="stairway") as url:
        run_alembic(url, "upgrade", revision)
        run_alembic(url, "downgrade", str(down_revision))
        run_alembic(url, "upgrade", revision)


def test_the_migrations_build_exactly_the_declared_tables(migrated_url: str) -> None:
    engine = sa.create_engine(to_psycopg_url(migrated_url), poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": True}
            )
            differences = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_cli_upgrade_then_downgrade_base_leaves_an_empty_schema(
    postgres_url: str, project_root: Path
) -> None:
    portico = str(Path(sys.executable).with_name("portico"))
    with isolated_schema(postgres_url, prefix="cli") as url:
        env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
        subprocess.run([portico, "db", "upgrade"], env=env, check=True, cwd=project_root)
        assert table_names(url) == {"alembic_version", *metadata.tables}
        current = subprocess.run(
            [portico, "db", "current"], env=env, check=True, capture_output=True, text=True
        )
        assert f"{revisions()[-1]} (head)" in current.stdout
        subprocess.run([portico, "db", "downgrade", "base"], env=env, check=True, cwd=project_root)
        assert table_names(url) == set()


def test_upgrades_started_at_once_run_one_after_the_other(
    postgres_url: str, project_root: Path
) -> None:
    """Without the advisory lock both would create the same tables, and one would fail."""
    portico = str(Path(sys.executable).with_name("portico"))
    with isolated_schema(postgres_url, prefix="race") as url:
        env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
        upgrades = [
            subprocess.Popen(
                [portico, "db", "upgrade"], env=env, cwd=project_root, stderr=subprocess.PIPE
            )
            for _ in range(3)
        ]
        for upgrade in upgrades:
            _, stderr = upgrade.communicate(timeout=60)
            assert upgrade.returncode == 0, stderr.decode()
        assert table_names(url) == {"alembic_version", *metadata.tables}
