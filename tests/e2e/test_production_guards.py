"""Production foot-guns and sign-up enumeration, against real `portico` processes.

- `portico seed` refuses APP_ENV=production (exit 2, one line, nothing written), and takes
  its password from standard input or generates one; never from the command line.
- In production, an unset or plain-http APP_PUBLIC_URL stops `portico serve` with exit 2
  and one line naming it; so do an unset AUDIT_SIGNING_KEY, and a waiting room for the
  WebSocket `auth` message under granian, which reads a whole frame before the app can
  refuse it.
- Sign-up keeps the spec's 409 for a taken email, and is limited per client: past
  RATE_LIMIT_REGISTRATIONS_PER_IP the answer is 429 with Retry-After, while sign-in from
  the same client goes on; login and reset answer alike for known and unknown emails.
"""

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from adapters.sqlalchemy.engine import to_psycopg_url
from tests.support.network import free_port
from tests.support.postgres import isolated_schema, run_alembic
from tests.support.server import PORTICO, RunningServer, clean_env, portico_server, run_portico

pytestmark = pytest.mark.e2e

JWT_SECRET = "production-guards-test-secret-of-at-least-32-bytes"
AUDIT_SIGNING_KEY = "production-guards-audit-signing-key-of-32-bytes"
PUBLIC_URL = "https://portico.example.com"
SMALL_SEED = ("--users", "3", "--articles", "2", "--comments", "2", "--seed", "5")
REGISTRATIONS_PER_CLIENT = 3


@pytest.fixture
def fresh_schema(postgres_url: str) -> Iterator[str]:
    """A migrated, empty schema of the test's own, so a count of zero means nothing written."""
    with isolated_schema(postgres_url, prefix="guards") as url:
        run_alembic(url, "upgrade", "head")
        yield url


def production_env(database_url: str, data_dir: Path, **overrides: str) -> dict[str, str]:
    """Settings that pass every production rule, unless `overrides` break one."""
    settings = {
        "APP_ENV": "production",
        "JWT_SECRET": JWT_SECRET,
        "AUDIT_SIGNING_KEY": AUDIT_SIGNING_KEY,
        "DATABASE_URL": database_url,
        "APP_PUBLIC_URL": PUBLIC_URL,
        "DATA_DIR": str(data_dir),
        **overrides,
    }
    return clean_env(**{name: value for name, value in settings.items() if value})


def user_rows(url: str) -> list[tuple[str, str]]:
    engine = sa.create_engine(to_psycopg_url(url), poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT username, email FROM users ORDER BY 1"))
            return [(str(username), str(email)) for username, email in rows]
    finally:
        engine.dispose()


def seed_with_stdin(
    *args: str, stdin: str, env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PORTICO, "seed", *args],
        input=stdin,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_seed_refuses_production_with_one_line_and_writes_nothing(
    fresh_schema: str, tmp_path: Path
) -> None:
    env = production_env(fresh_schema, tmp_path / "data")
    assert run_portico("config", "check", env=env, cwd=tmp_path).returncode == 0

    result = run_portico("seed", *SMALL_SEED, env=env, cwd=tmp_path)

    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line == (
        "portico: refusing to seed demo accounts with APP_ENV=production; "
        "pass --force-production to seed anyway"
    )
    assert result.stdout == ""
    assert user_rows(fresh_schema) == []


def test_seed_in_production_runs_only_when_forced(fresh_schema: str, tmp_path: Path) -> None:
    env = production_env(fresh_schema, tmp_path / "data")
    result = seed_with_stdin(
        *SMALL_SEED, "--force-production", "--password-stdin",
        stdin="a staging password\n", env=env, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(user_rows(fresh_schema)) == 3


def test_seeded_users_sign_in_with_the_password_from_stdin_which_is_never_echoed(
    fresh_schema: str, tmp_path: Path
) -> None:
    password = f"stdin-{uuid.uuid4().hex}"
    env = clean_env(DATABASE_URL=fresh_schema, DATA_DIR=str(tmp_path / "data"))

    seeded = seed_with_stdin(
        *SMALL_SEED, "--password-stdin", stdin=f"{password}\n", env=env, cwd=tmp_path
    )

    assert seeded.returncode == 0, seeded.stderr
    assert seeded.stdout.startswith("created 3 users")
    assert len(seeded.stdout.splitlines()) == 1
    assert password not in seeded.stdout + seeded.stderr
    (_, email), *_ = user_rows(fresh_schema)
    with portico_server(free_port(), env, tmp_path) as server:
        signed_in = httpx.post(
            f"{server.base_url}/api/users/login",
            json={"user": {"email": email, "password": password}},
            timeout=10,
        )
        wrong = httpx.post(
            f"{server.base_url}/api/users/login",
            json={"user": {"email": email, "password": "password123"}},
            timeout=10,
        )
    assert signed_in.status_code == 200, signed_in.text
    assert wrong.status_code == 401


def test_seed_takes_no_password_on_the_command_line(fresh_schema: str, tmp_path: Path) -> None:
    env = clean_env(DATABASE_URL=fresh_schema, DATA_DIR=str(tmp_path / "data"))
    result = run_portico("seed", *SMALL_SEED, "--password", "password123", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert user_rows(fresh_schema) == []


def test_production_serve_without_an_https_public_url_exits_2_with_one_line(
    fresh_schema: str, tmp_path: Path
) -> None:
    """The process's answer; which values the rule refuses is tests/unit/test_settings.py's."""
    env = production_env(
        fresh_schema, tmp_path / "data", APP_PUBLIC_URL="http://portico.example.com"
    )
    result = run_portico("serve", "--port", str(free_port()), env=env, cwd=tmp_path, timeout=30)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(
        "portico: configuration error: APP_PUBLIC_URL: must be set to the https://"
    )


def test_production_serve_without_an_audit_signing_key_exits_2_with_one_line(
    tmp_path: Path,
) -> None:
    """The process's answer; the key's rules are tests/unit/test_settings.py's."""
    env = production_env(
        "postgresql://postgres@127.0.0.1:1/none", tmp_path / "data", AUDIT_SIGNING_KEY=""
    )
    assert "AUDIT_SIGNING_KEY" not in env
    result = run_portico("serve", "--port", str(free_port()), env=env, cwd=tmp_path, timeout=30)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("portico: configuration error: AUDIT_SIGNING_KEY: must be set")
    assert "APP_ENV=production" in line


def test_production_serve_refuses_a_waiting_room_under_granian(tmp_path: Path) -> None:
    """granian would buffer a 16 MiB frame per waiting socket; uvicorn refuses it unread."""
    env = production_env(
        "postgresql://postgres@127.0.0.1:1/none",
        tmp_path / "data",
        APP_SERVER="granian",
        WS_MAX_UNAUTHENTICATED="1000",
    )
    result = run_portico("serve", "--port", str(free_port()), env=env, cwd=tmp_path, timeout=30)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("portico: configuration error: WS_MAX_UNAUTHENTICATED: must be 0")
    assert "APP_SERVER=uvicorn" in line


@pytest.fixture(scope="module")
def limited_server(
    migrated_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """A server with a small registration limit, behind a trusted proxy (this machine).

    Each test signs up as client addresses of its own (X-Forwarded-For), so the tests do
    not share a budget.
    """
    env = clean_env(
        DATABASE_URL=migrated_url,
        DATA_DIR=str(tmp_path_factory.mktemp("guards-data")),
        TRUSTED_PROXIES="127.0.0.1",
        RATE_LIMIT_AUTH_PER_IP="1000",
        RATE_LIMIT_REGISTRATIONS_PER_IP=str(REGISTRATIONS_PER_CLIENT),
        RATE_LIMIT_REGISTRATIONS_PER_IP_WINDOW_SECONDS="3600",
    )
    with portico_server(free_port(), env, tmp_path_factory.mktemp("guards")) as running:
        yield running


def new_account() -> dict[str, str]:
    name = f"g{uuid.uuid4().hex[:12]}"
    return {"username": name, "email": f"{name}@test.com", "password": "password123"}


def as_client(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


def test_sign_up_beyond_the_per_client_limit_is_429_with_retry_after(
    limited_server: RunningServer,
) -> None:
    first = new_account()
    client = as_client("198.51.100.10")
    with httpx.Client(base_url=limited_server.base_url, timeout=10, headers=client) as api:
        assert api.post("/api/users", json={"user": first}).status_code == 201
        taken = api.post("/api/users", json={"user": {**new_account(), "email": first["email"]}})
        assert taken.status_code == 409
        assert taken.json() == {"errors": {"email": ["has already been taken"]}}
        assert api.post("/api/users", json={"user": new_account()}).status_code == 201

        limited = api.post("/api/users", json={"user": new_account()})

        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 3600
        assert list(limited.json()["errors"]) == ["rate_limit"]
        signed_in = api.post(
            "/api/users/login",
            json={"user": {"email": first["email"], "password": first["password"]}},
        )
        assert signed_in.status_code == 200, signed_in.text
        another_client = api.post(
            "/api/users", json={"user": new_account()}, headers=as_client("198.51.100.11")
        )
        assert another_client.status_code == 201


def test_sign_in_and_reset_answer_alike_for_known_and_unknown_emails(
    limited_server: RunningServer,
) -> None:
    """What registration's 409 reveals, the other identity routes do not."""
    known = new_account()
    client = as_client("198.51.100.20")
    with httpx.Client(base_url=limited_server.base_url, timeout=10, headers=client) as api:
        assert api.post("/api/users", json={"user": known}).status_code == 201
        unknown_email = f"nobody-{uuid.uuid4().hex[:8]}@test.com"
        logins = [
            api.post("/api/users/login", json={"user": {"email": email, "password": "wrong-pass"}})
            for email in (known["email"], unknown_email)
        ]
        resets = [
            api.post("/api/auth/password-reset", json={"email": email})
            for email in (known["email"], unknown_email)
        ]
    assert [r.status_code for r in logins] == [401, 401]
    assert logins[0].json() == logins[1].json()
    assert [r.status_code for r in resets] == [202, 202]
    assert resets[0].json() == resets[1].json()
