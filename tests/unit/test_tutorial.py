"""docs/tutorial.md builds: its files, written into a copy of the tree, lint and pass.

The copy holds `src/`, `tests/` and `pyproject.toml`; the tutorial's blocks are written
into it and its own tests run there, in a subprocess, so nothing of the tutorial leaks into
this process (its table would otherwise join the metadata that the migrations are checked
against). The PostgreSQL half of its contract test runs when TEST_DATABASE_URL names a
server; the end-to-end test is collected (so it imports), not run.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.tutorial import tutorial_blocks, write_tutorial

ROOT = Path(__file__).resolve().parents[2]
TOOLS = Path(sys.executable).parent


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("tutorial")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("src", "tests"):
        shutil.copytree(ROOT / folder, copy / folder, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", copy)
    return copy


@pytest.fixture(scope="module")
def written(tree: Path) -> list[Path]:
    return write_tutorial(ROOT, tree)


def run(tree: Path, *command: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{tree / 'src'}{os.pathsep}{tree}"}
    return subprocess.run(
        command, cwd=tree, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_the_tutorial_writes_a_whole_context() -> None:
    paths = {block.path for block in tutorial_blocks(ROOT)}
    for layer in (
        "src/domain/",
        "src/application/",
        "src/adapters/memory/",
        "src/adapters/sqlalchemy/",
        "src/entrypoints/http/",
        "src/entrypoints/ioc/",
        "tests/contract/",
        "tests/unit/",
        "tests/e2e/",
    ):
        assert any(path.startswith(layer) for path in paths), f"nothing under {layer}"
    assert any("/migrations/versions/" in path for path in paths)


def test_the_tutorial_files_are_new(written: list[Path], tree: Path) -> None:
    for path in written:
        assert not (ROOT / path.relative_to(tree)).exists(), f"{path} is already in the tree"


def test_the_tutorial_code_passes_ruff(tree: Path, written: list[Path]) -> None:
    files = [str(path) for path in written]
    checked = run(tree, str(TOOLS / "ruff"), "check", "--no-cache", *files)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    formatted = run(tree, str(TOOLS / "ruff"), "format", "--no-cache", "--check", *files)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_the_tutorial_code_passes_mypy(tree: Path, written: list[Path]) -> None:
    files = [str(path.relative_to(tree)) for path in written if "/migrations/" not in str(path)]
    checked = run(tree, str(TOOLS / "mypy"), "--config-file", "pyproject.toml", *files)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_tutorial_tests_pass(tree: Path, written: list[Path]) -> None:
    tests = [str(path.relative_to(tree)) for path in written if path.name.startswith("test_")]
    markers = "not e2e" if os.environ.get("TEST_DATABASE_URL") else "not e2e and not integration"
    result = run(
        tree,
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-m",
        markers,
        *tests,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
