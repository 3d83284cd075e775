"""Runs `portico` as a real subprocess, the way an operator would."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

PORTICO = str(Path(sys.executable).with_name("portico"))


def clean_env(**settings: str) -> dict[str, str]:
    """An environment with nothing of the caller's settings in it: only PATH, HOME and these."""
    base = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    return {**base, "LOG_LEVEL": "INFO", **settings}


def run_portico(
    *args: str, env: Mapping[str, str], cwd: Path, timeout: float = 60, executable: str = PORTICO
) -> subprocess.CompletedProcess[str]:
    """Run one `portico` command to completion (this environment's, unless `executable`)."""
    return subprocess.run(
        [executable, *args],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_portico_with_input(
    args: list[str], env: dict[str, str], cwd: Path, stdin: str
) -> subprocess.CompletedProcess[str]:
    """Run one `portico` command with `stdin` typed into it, as at a prompt."""
    return subprocess.run(
        [PORTICO, *args], env=env, cwd=cwd, input=stdin, capture_output=True, text=True, check=False
    )


@dataclass
class RunningServer:
    """A `portico serve` process and where to reach it."""

    process: subprocess.Popen[str]
    base_url: str
    log_path: Path

    def log(self) -> str:
        """Everything the server wrote so far."""
        return self.log_path.read_text()

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 10) -> tuple[int, float]:
        """Send `sig`, wait for the exit; return the exit code and how long it took."""
        started = time.monotonic()
        self.process.send_signal(sig)
        code = self.process.wait(timeout=timeout)
        return code, time.monotonic() - started


@contextmanager
def portico_server(
    port: int,
    env: Mapping[str, str],
    cwd: Path,
    *extra_args: str,
    ready_within: float = 60,
    executable: str = PORTICO,
) -> Iterator[RunningServer]:
    """Start `portico serve` and wait until /health/live answers; kill it if still running."""
    log_path = cwd / f"serve-{port}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [executable, "serve", "--port", str(port), *extra_args],
            env=dict(env),
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    server = RunningServer(process, f"http://127.0.0.1:{port}", log_path)
    try:
        _wait_until_live(server, ready_within)
        yield server
    finally:
        _stop_group(process)


def _stop_group(process: subprocess.Popen[str]) -> None:
    """Stop the server and every worker it spawned, gracefully first, then by force."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _wait_until_live(server: RunningServer, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"portico serve exited early:\n{server.log()}")
        try:
            if httpx.get(f"{server.base_url}/health/live", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"portico serve was not live within {within}s:\n{server.log()}")
