"""The server and database of the attacks, and the attackers' shared Tally."""

import asyncio
import contextlib
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from tests.support.network import free_port
from tests.support.server import RunningServer, clean_env, portico_server

ROOT = Path(__file__).resolve().parents[2]
PORTICO = str(Path(sys.executable).with_name("portico"))
PASSWORD = "attack-password-123"


# --- server and database ----------------------------------------------------------------------


@dataclass
class Setup:
    database_url: str
    redis_url: str | None
    workdir: Path
    source: Path | None = None
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    audit_signing_key: str = field(default_factory=lambda: secrets.token_urlsafe(48))

    def env(self, server: str, **extra: str) -> dict[str, str]:
        settings = {
            "APP_ENV": "production",
            "APP_PUBLIC_URL": "https://portico.attack.test",
            "APP_SERVER": server,
            "APP_WORKERS": "1",
            "JWT_SECRET": self.jwt_secret,
            "AUDIT_SIGNING_KEY": self.audit_signing_key,
            "DATABASE_URL": self.database_url,
            "OUTBOX_RELAY_IN_API": "true",
            "RATE_LIMIT_REGISTRATIONS_PER_IP": "10000",
            "LOG_LEVEL": "INFO",
            **extra,
        }
        if self.source is not None:
            settings["PYTHONPATH"] = str(self.source)
        if self.redis_url:
            settings["REDIS_URL"] = self.redis_url
            settings["REALTIME_CHANNEL_PREFIX"] = f"attack{uuid.uuid4().hex[:8]}:"
        return clean_env(**settings)


@contextlib.contextmanager
def started(setup: Setup, server: str, **extra: str) -> Iterator[tuple[RunningServer, int]]:
    """A warmed-up server with the attack's settings, and `extra` ones on top."""
    port = free_port()
    cwd = Path(tempfile.mkdtemp(prefix=f"{server}-", dir=setup.workdir))
    with portico_server(port, setup.env(server, **extra), cwd) as running:
        # Warm the app (first requests import and compile lazily) before any baseline.
        for path in ("/health/live", "/api/tags", "/api/articles?limit=1"):
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(running.base_url + path, timeout=10)
        with contextlib.suppress(httpx.HTTPError):  # the sign-up route, answered with 422
            httpx.post(running.base_url + "/api/users", content=b"{}", timeout=10)
        yield running, port


def export(rev: str, workdir: Path) -> Path:
    """REV's `src` (with `git archive`, which changes nothing in the repository), to put
    first on the server's PYTHONPATH ahead of the editable install's `.pth` entry."""
    target = workdir / ("rev-" + rev.replace("/", "_"))
    target.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev, "src"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target / "src"


def redis_reachable(url: str) -> bool:
    host, _, port = url.split("//", 1)[1].split("/", 1)[0].rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port or 6379)), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def database(admin_url: str, workdir: Path, source: Path | None) -> Iterator[str]:
    """DATABASE_URL, or a fresh database on `admin_url`'s server (dropped afterwards)."""
    given = os.environ.get("DATABASE_URL")
    name = None
    if given:
        url = given
    else:
        name = f"portico_attack_{uuid.uuid4().hex[:8]}"
        subprocess.run(["psql", admin_url, "-qc", f"CREATE DATABASE {name}"], check=True)
        url = admin_url.rsplit("/", 1)[0] + "/" + name
    try:
        migrate = subprocess.run(
            [PORTICO, "db", "upgrade"],
            env=clean_env(
                DATABASE_URL=url, **({"PYTHONPATH": str(source)} if source is not None else {})
            ),
            cwd=workdir,
            capture_output=True,
            text=True,
            check=False,
        )
        if migrate.returncode:
            raise SystemExit(f"attacks: migration failed:\n{migrate.stdout}{migrate.stderr}")
        yield url
    finally:
        if name:
            subprocess.run(
                ["psql", admin_url, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
                check=False,
            )


def register(base: str) -> tuple[str, str]:
    """A new user: (username, token)."""
    name = f"atk{uuid.uuid4().hex[:10]}"
    body = {"user": {"username": name, "email": f"{name}@attack.test", "password": PASSWORD}}
    response = httpx.post(f"{base}/api/users", json=body, timeout=30)
    if response.status_code != 201:
        raise SystemExit(f"attacks: sign-up failed: {response.status_code} {response.text}")
    return name, str(response.json()["user"]["token"])


def run_loop(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    try:
        import uvloop  # noqa: PLC0415 - optional, only cheaper
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())


@dataclass
class Tally:
    opened: int = 0
    refused: int = 0
    closed_by_server: int = 0
    responses: int = 0
    crashed: list[str] = field(default_factory=list)

    async def gather(self, *tasks: Awaitable[None]) -> None:
        """Await the attackers; one that fails is recorded (`crashed`), not fatal."""
        for outcome in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(outcome, BaseException):
                self.crashed.append(repr(outcome))
