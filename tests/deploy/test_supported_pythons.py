"""Every supported CPython, on both Linux architectures, installs the locked set from wheels.

Only 3.11 and 3.13 are installed on these machines, so the others are checked by asking uv
to resolve the lock for them: `uv pip install --dry-run --python-version V --python-platform
P --only-binary :all:` fails when any locked package lacks a wheel for that interpreter and
platform. Pure-Python packages that publish only a source distribution build anywhere, so
they are named here and allowed to build.
"""

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from entrypoints.cli import OLDEST_SUPPORTED_PYTHON

SUPPORTED_PYTHONS = ("3.11", "3.12", "3.13", "3.14")
PLATFORMS = ("x86_64-manylinux_2_28", "aarch64-manylinux_2_28")
PURE_PYTHON_SOURCE_ONLY = frozenset({"http-ece"})


def _uv() -> list[str]:
    found = shutil.which("uv")
    return [found] if found is not None else ["python3", "-m", "uv"]


@pytest.fixture(scope="module")
def locked_requirements(project_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lock's runtime packages and every extra, as a requirements file of pinned wheels."""
    exported = subprocess.run(
        [
            *_uv(),
            "export",
            "--frozen",
            "--all-extras",
            "--no-dev",
            "--no-hashes",
            "--no-emit-project",
            "--quiet",
        ],
        cwd=project_root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names = {re.split(r"[=<>; ]", line, maxsplit=1)[0] for line in exported.splitlines()}
    assert names >= PURE_PYTHON_SOURCE_ONLY, "a source-only package left the lock: update the list"
    kept = [
        line for line in exported.splitlines() if line.split("==")[0] not in PURE_PYTHON_SOURCE_ONLY
    ]
    path = tmp_path_factory.mktemp("lock") / "requirements.txt"
    path.write_text("\n".join(kept) + "\n")
    return path


def test_the_checked_range_starts_where_the_package_and_the_guard_do(project_root: Path) -> None:
    project = tomllib.loads((project_root / "pyproject.toml").read_text())["project"]
    oldest = ".".join(str(part) for part in OLDEST_SUPPORTED_PYTHON)
    assert project["requires-python"] == f">={oldest}"
    assert SUPPORTED_PYTHONS[0] == oldest


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("python", SUPPORTED_PYTHONS)
def test_the_lock_installs_from_wheels(
    python: str, platform: str, locked_requirements: Path, tmp_path: Path
) -> None:
    result = subprocess.run(
        [
            *_uv(),
            "pip",
            "install",
            "--dry-run",
            "--only-binary",
            ":all:",
            "--python-version",
            python,
            "--python-platform",
            platform,
            "--target",
            str(tmp_path / "target"),
            "-r",
            str(locked_requirements),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
    )
    assert result.returncode == 0, f"CPython {python} on {platform}:\n{result.stderr}"
