"""deploy/nginx/portico.conf, run by Debian's nginx in front of a real `portico serve`.

Only the listen port and the upstream address are rewritten to free ports; every limit is
the shipped one. The proxy must hold what one Portico process cannot: a cap on requests in
progress per client address, and slow or silent clients kept at the proxy (cut off after
client_header_timeout) while everyone else is served at once.
"""

import asyncio
import contextlib
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_connection_limits import probe, raise_open_files_limit, run_attack
from tests.support.network import free_port
from tests.support.server import RunningServer, clean_env, portico_server

SITE = Path(__file__).parents[2] / "deploy" / "nginx" / "portico.conf"
SHIPPED_LISTEN = "listen 8080;"
SHIPPED_UPSTREAM = "server 127.0.0.1:8000;"
SLOW_CLIENTS = 1100


def shipped(directive: str) -> str:
    """The value the shipped file gives a directive (its first occurrence)."""
    found = re.search(rf"^\s*{directive}\s+([^;]+);", SITE.read_text(), re.MULTILINE)
    assert found, f"{directive} is missing from {SITE}"
    return found.group(1).strip()


def seconds(value: str) -> float:
    return float(value.removesuffix("s"))


PER_CLIENT = int(shipped("limit_conn").split()[-1])
HEADER_TIMEOUT = seconds(shipped("client_header_timeout"))


@dataclass
class Proxy:
    """A running nginx and where to reach it."""

    process: subprocess.Popen[bytes]
    port: int
    prefix: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def error_log(self) -> str:
        return (self.prefix / "error.log").read_text()


def nginx_binary() -> str:
    """Debian's nginx: CI must install it (`apt-get install -y nginx`); nothing is skipped."""
    found = shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx",) if Path(path).exists()), None
    )
    assert found, "nginx is not installed: `apt-get install -y nginx` (Debian's package)"
    return found


def main_config(prefix: Path) -> str:
    """What the host's own nginx.conf provides around the site file, in a private prefix."""
    temp_paths = "\n".join(
        f"    {kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""
worker_processes 1;
worker_rlimit_nofile 10000;
error_log {prefix / "error.log"} warn;
pid {prefix / "nginx.pid"};
events {{ worker_connections 8192; }}
http {{
    access_log off;
{temp_paths}
    include {prefix / "portico.conf"};
}}
"""


@pytest.fixture(scope="module")
def portico(migrated_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = clean_env(DATABASE_URL=migrated_url, LOG_LEVEL="WARNING")
    with portico_server(free_port(), env, tmp_path_factory.mktemp("proxied")) as running:
        yield running


@pytest.fixture(scope="module")
def proxy(portico: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    raise_open_files_limit(SLOW_CLIENTS * 2 + 1024)
    prefix = tmp_path_factory.mktemp("nginx")
    port = free_port()
    site = SITE.read_text()
    assert SHIPPED_LISTEN in site, "the test rewrites the listen port"
    assert SHIPPED_UPSTREAM in site, "the test rewrites the upstream address"
    upstream = portico.base_url.removeprefix("http://")
    site = site.replace(SHIPPED_LISTEN, f"listen 127.0.0.1:{port};")
    (prefix / "portico.conf").write_text(site.replace(SHIPPED_UPSTREAM, f"server {upstream};"))
    (prefix / "nginx.conf").write_text(main_config(prefix))
    binary = nginx_binary()
    command = [binary, "-p", str(prefix), "-e", str(prefix / "error.log")]
    command += ["-c", str(prefix / "nginx.conf")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen([*command, "-g", "daemon off;"], start_new_session=True)
    running = Proxy(process, port, prefix)
    try:
        _wait_until_live(running)
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_until_live(proxy: Proxy) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert proxy.process.poll() is None, f"nginx exited:\n{proxy.error_log()}"
        try:
            if httpx.get(f"{proxy.base_url}/health/live", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"nginx did not proxy /health/live:\n{proxy.error_log()}")


def _connect(port: int, source: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(5)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def _status(sock: socket.socket, request: bytes) -> int:
    sock.sendall(request)
    head = b""
    while b"\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, "closed without a response"
        head += chunk
    return int(head.split(b" ", 2)[1])


GET_LIVE = b"GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def test_the_shipped_configuration_is_valid_nginx(proxy: Proxy) -> None:
    """The fixture ran `nginx -t` on it; here, the proxied API answers with Portico's ids."""
    response = httpx.get(f"{proxy.base_url}/health/live", headers={"X-Request-ID": "via-nginx"})
    assert response.json() == {"status": "ok"}
    assert response.headers["x-request-id"] == "via-nginx"


def test_requests_in_progress_are_capped_per_client_address(proxy: Proxy) -> None:
    """PER_CLIENT slow uploads from one address fill its share; another address is served."""
    slow_upload = (
        b"POST /api/users/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100000\r\n\r\n{"
    )
    held = [_connect(proxy.port, "127.0.0.1") for _ in range(PER_CLIENT)]
    try:
        for sock in held:
            sock.sendall(slow_upload)
        time.sleep(0.5)
        with _connect(proxy.port, "127.0.0.1") as one_more:
            assert _status(one_more, GET_LIVE) == 429
        with _connect(proxy.port, "127.0.0.2") as someone_else:
            assert _status(someone_else, GET_LIVE) == 200
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.5)
    with _connect(proxy.port, "127.0.0.1") as again:
        assert _status(again, GET_LIVE) == 200
    assert "limiting connections by zone" in proxy.error_log()


def test_slow_and_silent_clients_are_cut_off_at_the_proxy(proxy: Proxy) -> None:
    """1,100 slow-header clients and a silent one: cut after the header timeout, no one waits."""
    silent = _connect(proxy.port, "127.0.0.3")
    started = time.monotonic()
    outcome = asyncio.run(
        run_attack(
            "127.0.0.1",
            proxy.port,
            kind="slow",
            connections=SLOW_CLIENTS,
            seconds=HEADER_TIMEOUT + 2,
            every=2,
        )
    )
    assert outcome.attack.opened == SLOW_CLIENTS, outcome.attack
    assert outcome.p99 < 1, sorted(outcome.during)[-5:]
    assert max(outcome.after) < 1, outcome.after
    assert outcome.attack.cut_off == SLOW_CLIENTS, outcome.attack
    assert min(outcome.attack.closed_at) > HEADER_TIMEOUT - 1, min(outcome.attack.closed_at)
    assert max(outcome.attack.closed_at) < HEADER_TIMEOUT + 3, max(outcome.attack.closed_at)
    silent.settimeout(max(0.1, HEADER_TIMEOUT + 3 - (time.monotonic() - started)))
    with silent, contextlib.suppress(ConnectionResetError):
        assert silent.recv(1024) == b""
    assert asyncio.run(probe("127.0.0.1", proxy.port)) < 1
