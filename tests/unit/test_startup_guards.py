"""Guards that run before anything else: the Python version and the embedded database's data."""

import ast
import sys
from pathlib import Path

import pytest

import entrypoints
import entrypoints.cli
from adapters.embedded_postgres.server import (
    EMBEDDED_MAJOR_VERSION,
    EmbeddedPostgres,
    EmbeddedPostgresError,
)


def test_an_unsupported_python_gets_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "version_info", (3, 10, 14, "final", 0))
    with pytest.raises(SystemExit) as exited:
        entrypoints.cli.main()
    assert exited.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == "portico: Python 3.10.14 is not supported; use Python 3.11 or newer"


def test_the_guard_and_the_packages_above_it_parse_on_old_pythons() -> None:
    """Syntax an old interpreter does not know would fail before the guard could speak."""
    for module in (entrypoints, entrypoints.cli):
        source = Path(module.__file__ or "").read_text()
        ast.parse(source, feature_version=(3, 7))


def test_a_cluster_of_another_major_version_is_refused_before_starting(tmp_path: Path) -> None:
    data_dir = tmp_path / "postgres"
    data_dir.mkdir()
    (data_dir / "PG_VERSION").write_text("16\n")
    with pytest.raises(EmbeddedPostgresError) as refused:
        EmbeddedPostgres(data_dir).start()
    message = str(refused.value)
    assert "holds a PostgreSQL 16 cluster" in message
    assert f"the embedded server is PostgreSQL {EMBEDDED_MAJOR_VERSION}" in message
    assert "move or delete that directory" in message
    assert not (data_dir / "postmaster.pid").exists()
