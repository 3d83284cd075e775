"""Helpers for end-to-end notification tests: an SMTP inbox, processes, accounts, sockets."""

import contextlib
import email
import email.policy
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from websockets.sync.client import ClientConnection, connect

from tests.support.network import free_port
from tests.support.server import PORTICO

PASSWORD = "password123"


@dataclass(frozen=True)
class Mail:
    """One message the SMTP server accepted, parsed."""

    mail_from: str
    recipients: list[str]
    message: EmailMessage


class Inbox:
    """An aiosmtpd handler keeping every message it accepted; tests wait on it."""

    def __init__(self) -> None:
        self._mails: list[Mail] = []
        self._changed = threading.Condition()

    async def handle_DATA(  # noqa: N802 - the name aiosmtpd calls the hook by
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self._changed:
            self._mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), parsed))
            self._changed.notify_all()
        return "250 OK"

    def matching(self, predicate: Callable[[Mail], bool]) -> list[Mail]:
        """The messages accepted so far that satisfy `predicate`."""
        with self._changed:
            return [mail for mail in self._mails if predicate(mail)]

    def wait_for(self, predicate: Callable[[Mail], bool], within: float) -> Mail:
        """The first message satisfying `predicate`, waiting up to `within` seconds for it."""
        deadline = time.monotonic() + within
        with self._changed:
            while True:
                found = [mail for mail in self._mails if predicate(mail)]
                if found:
                    return found[0]
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(m.recipients, m.message["Subject"]) for m in self._mails]
                    raise AssertionError(f"no such email within {within}s; got {seen}")
                self._changed.wait(left)


@contextmanager
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1; yields its inbox and port."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def sent_to(address: str, subject_contains: str) -> Callable[[Mail], bool]:
    """A predicate: a message to `address` whose subject contains the fragment."""
    return lambda mail: (
        mail.recipients == [address] and subject_contains in str(mail.message["Subject"])
    )


@dataclass
class Process:
    """A `portico` subprocess in a session of its own, writing to a log file."""

    name: str
    popen: subprocess.Popen[str]
    log_path: Path
    _terminated: bool = False

    def log(self) -> str:
        """Everything it wrote so far."""
        return self.log_path.read_text(errors="replace")

    def running(self) -> bool:
        """Whether it has not exited yet."""
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL it and everything it spawned, and reap it."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def terminate(self) -> None:
        """Send SIGTERM, once, if it still runs."""
        if self.running() and not self._terminated:
            self.popen.send_signal(signal.SIGTERM)
            self._terminated = True

    def stop(self, grace: float = 10) -> None:
        """SIGTERM, then SIGKILL whatever is left (it and its children) after `grace`."""
        self.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=grace)
        self.kill()

    def wait_for_log(self, fragment: str, within: float) -> None:
        """Wait until the log shows `fragment`; fail early when the process exits."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if fragment in self.log():
                return
            if not self.running():
                raise AssertionError(f"{self.name} exited early:\n{self.log()}")
            time.sleep(0.05)
        raise AssertionError(
            f"{fragment!r} not in {self.name}'s log within {within}s:\n{self.log()}"
        )


class Processes:
    """Starts `portico` processes and stops every one of them when the block ends."""

    def __init__(self, cwd: Path) -> None:
        self._cwd = cwd
        self.started: list[Process] = []

    def start(self, name: str, args: list[str], env: Mapping[str, str]) -> Process:
        """Start `portico <args>` without waiting for it."""
        log_path = self._cwd / f"{name}.log"
        with log_path.open("w") as log:
            popen = subprocess.Popen(
                [PORTICO, *args],
                env=dict(env),
                cwd=self._cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
        process = Process(name, popen, log_path)
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        """Stop what still runs, all at once, and print every log (pytest shows it on failure)."""
        for process in self.started:
            process.terminate()
        for process in self.started:
            process.stop()
            print(  # noqa: T201 - pytest shows a failed test's output
                f"===== {process.name} (exit {process.popen.returncode})\n{process.log()}"
            )


@contextmanager
def portico_processes(cwd: Path) -> Iterator[Processes]:
    """A `Processes` whose processes are stopped when the block ends, however it ends."""
    processes = Processes(cwd)
    try:
        yield processes
    finally:
        processes.stop_all()


def wait_until_live(process: Process, base_url: str, within: float = 60) -> None:
    """Wait until `portico serve` answers /health/live."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not process.running():
            raise AssertionError(f"{process.name} exited early:\n{process.log()}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base_url}/health/live", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"{process.name} was not live within {within}s:\n{process.log()}")


@dataclass(frozen=True)
class Account:
    """A registered user and their access token."""

    username: str
    email: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        """The Authorization header."""
        return {"Authorization": f"Token {self.token}"}


def register(api: httpx.Client, prefix: str = "u") -> Account:
    """Register a new user through the API."""
    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    address = f"{name}@test.com"
    body = {"user": {"username": name, "email": address, "password": PASSWORD}}
    response = api.post("/api/users", json=body)
    assert response.status_code == 201, response.text
    return Account(username=name, email=address, token=response.json()["user"]["token"])


def verify_email(api: httpx.Client, inbox: Inbox, account: Account) -> None:
    """Prove `account`'s address through the link mailed at sign-up, as its owner would.

    Notification mail goes only to verified addresses.
    """
    mail = inbox.wait_for(sent_to(account.email, "Confirm your email address"), within=30)
    body = mail.message.get_body(preferencelist=("plain",))
    assert body is not None
    token = str(body.get_content()).split("?token=", 1)[1].split()[0]
    response = api.post("/api/auth/verify-email", json={"token": token})
    assert response.status_code == 204, response.text


def follow(api: httpx.Client, follower: Account, followee: Account) -> None:
    """`follower` follows `followee` through the API."""
    response = api.post(f"/api/profiles/{followee.username}/follow", headers=follower.auth)
    assert response.status_code == 200, response.text
    assert response.json()["profile"]["following"] is True


def publish(api: httpx.Client, author: Account, title: str) -> dict[str, Any]:
    """Publish an article through the API; the article as the API returns it."""
    body = {"article": {"title": title, "description": "About it", "body": "Text.", "tagList": []}}
    response = api.post("/api/articles", json=body, headers=author.auth)
    assert response.status_code == 201, response.text
    article: dict[str, Any] = response.json()["article"]
    return article


@contextmanager
def open_socket(base_url: str, account: Account) -> Iterator[ClientConnection]:
    """A WebSocket to /ws, authenticated as `account` with a ticket, the default admission
    (auth_ok received); closed after."""
    issued = httpx.post(f"{base_url}/api/notifications/live-ticket", headers=account.auth)
    assert issued.status_code == 201, issued.text
    url = base_url.replace("http://", "ws://") + "/ws?ticket=" + issued.json()["ticket"]
    with connect(url, open_timeout=5) as socket:
        answer = json.loads(socket.recv(timeout=5))
        assert answer["type"] == "auth_ok", answer
        yield socket


def next_notification(
    socket: ClientConnection, predicate: Callable[[dict[str, Any]], bool], within: float
) -> dict[str, Any]:
    """The first `new_notification` document satisfying `predicate`, within `within` seconds."""
    deadline = time.monotonic() + within
    seen: list[Any] = []
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = json.loads(socket.recv(timeout=left))
        except TimeoutError:
            break
        seen.append(message)
        if message.get("type") == "new_notification" and predicate(message["data"]):
            document: dict[str, Any] = message["data"]
            return document
    raise AssertionError(f"no such notification within {within}s; got {seen}")
