"""The audit acceptance scenario's driver: clients that act, and what each act must leave.

A `Persona` is one person at one device: a username, a password, a client address (sent
as X-Forwarded-For, which the server trusts from 127.0.0.1) and a user agent, and their
own `httpx.Client`, so cookies never cross between people. A `Driver` sends every request
with a fresh X-Request-ID, checks its status, keeps every secret the request carried or
the answer revealed (`Secrets`), and records the audit entries a step must leave as
`Expected`: by request id for a request, by command for the CLI, by target for the worker.
"""

import ipaddress
import itertools
import re
import subprocess
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from secrets import randbits
from typing import Any, Self

import httpx

from tests.support.audit_stack import CONFIGURED_SECRETS, Stack
from tests.support.server import run_portico, run_portico_with_input

REDACTED = "[redacted]"
DOCUMENTATION_NET = 0x20010DB8 << 96
_SECRET_KEYS = frozenset(
    {"token", "refreshToken", "password", "currentPassword", "confirm", "code", "csrf"}
)
"""Keys whose values, in a request (JSON or form) or a JSON answer, are secrets wherever
they appear."""


def strong_password(label: str) -> str:
    """A password no entry could hold by chance: unique to this run and this use."""
    return f"{label}-pw-{uuid.uuid4().hex[:16]}"


@dataclass
class Persona:
    """One person at one device, and what the server told them so far."""

    label: str
    name: str
    email: str
    password: str
    ip: str
    user_agent: str
    client: httpx.Client
    user_id: str = ""
    token: str = ""
    refresh_token: str = ""


@dataclass(frozen=True)
class Expected:
    """One audit entry a step must leave, and how to find it among the rest.

    `request_id` finds a request's entry; a CLI entry is found by `process` (the command,
    ``portico users ban``) and a worker's by action and target. `changes` lists
    `(field, before, after)` the entry must hold, among others it may hold.
    """

    action: str
    outcome: str
    actor_kind: str
    target_type: str
    target_id: str | None
    actor_id: str | None = None
    actor_name: str | None = None
    process: str | None = None
    request_id: str | None = None
    client_ip: str | None = None
    user_agent: str | None = None
    reason: str | None = None
    changes: tuple[tuple[str, object, object], ...] = ()
    times: int = 1

    def describe(self) -> str:
        where = self.request_id or self.process or self.actor_kind
        return f"{self.action} {self.outcome} on {self.target_type} {self.target_id} ({where})"


@dataclass
class Secrets:
    """Every secret the scenario used or saw, each with where it came from."""

    found: dict[str, str] = field(default_factory=dict)

    def add(self, value: object, where: str) -> None:
        if isinstance(value, str) and value:
            self.found.setdefault(value, where)

    def add_json(self, document: object, where: str) -> None:
        """Every value under a secret-named key, at any depth."""
        if isinstance(document, dict):
            for key, value in document.items():
                if key not in _SECRET_KEYS:
                    self.add_json(value, where)
                elif isinstance(value, str):
                    self.add(value, f"{where}: {key}")
        elif isinstance(document, list):
            for item in document:
                self.add_json(item, where)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.found.items())


@dataclass(frozen=True)
class _Sent:
    persona: Persona
    username: str
    signed_in: bool


class Driver:
    """Sends the scenario's requests and commands, and notes what each must leave."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.expected: list[Expected] = []
        self.secrets = Secrets()
        for secret in CONFIGURED_SECRETS:
            self.secrets.add(secret, "configured")
        self._tag = uuid.uuid4().hex[:8]
        self._count = itertools.count(1)
        self._addresses: set[str] = set()
        self._sent: dict[str, _Sent] = {}
        self._personas: list[Persona] = []

    def persona(self, label: str, *, name: str | None = None) -> Persona:
        """Someone new, at an address and with a browser of their own."""
        client = httpx.Client(base_url=self.stack.base_url, timeout=15)
        name = name or f"{label}{uuid.uuid4().hex[:8]}"
        persona = Persona(
            label=label,
            name=name,
            email=f"{name}@test.com",
            password=strong_password(label),
            ip=self.address(),
            user_agent=f"AuditE2E/{label} ({uuid.uuid4().hex[:6]})",
            client=client,
        )
        self.secrets.add(persona.password, f"{label}'s password")
        self._personas.append(persona)
        return persona

    def address(self) -> str:
        """A client address nobody else has, in this run or any other whose rate limits a
        shared Redis may still count (a random one of 2001:db8::/32, RFC 3849)."""
        while True:
            address = str(ipaddress.IPv6Address(DOCUMENTATION_NET | randbits(96)))
            if address not in self._addresses:
                self._addresses.add(address)
                return address

    def people(self) -> list[Persona]:
        """Everyone the scenario made, each device of a person apart."""
        return list(self._personas)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        for persona in self._personas:
            persona.client.close()

    # --- requests ------------------------------------------------------------------------

    def http(
        self,
        who: Persona,
        method: str,
        path: str,
        status: int,
        *,
        signed_in: bool = True,
        headers: dict[str, str] | None = None,
        **options: Any,
    ) -> httpx.Response:
        """Send a request as `who` (with their access token unless not `signed_in`)."""
        request_id = f"audit-{self._tag}-{next(self._count):03d}-{who.label}"
        sent_headers = {
            "X-Request-ID": request_id,
            "X-Forwarded-For": who.ip,
            "User-Agent": who.user_agent,
            **({"Authorization": f"Token {who.token}"} if signed_in else {}),
            **(headers or {}),
        }
        for body in ("json", "data"):
            self.secrets.add_json(options.get(body), f"request {request_id}")
        response = who.client.request(method, path, headers=sent_headers, **options)
        assert response.status_code == status, (
            f"{method} {path} as {who.label}: {response.status_code} {response.text}"
        )
        assert response.headers["x-request-id"] == request_id
        self._keep_secrets(response, request_id)
        self._sent[request_id] = _Sent(who, who.name, signed_in)
        return response

    def _keep_secrets(self, response: httpx.Response, request_id: str) -> None:
        for cookie in response.headers.get_list("set-cookie"):
            self.secrets.add(cookie.split(";", 1)[0].partition("=")[2], f"cookie {request_id}")
        if response.headers.get("content-type", "").startswith("application/json"):
            self.secrets.add_json(response.json(), f"answer {request_id}")

    def expect(
        self,
        response: httpx.Response,
        action: str,
        target_type: str,
        target_id: str | None,
        *,
        outcome: str = "success",
        reason: str | None = None,
        changes: Iterable[tuple[str, object, object]] = (),
        by_owner: bool = False,
    ) -> None:
        """The request of `response` must leave this entry, with its sender as the actor
        (anonymous when it was sent without an access token, unless `by_owner`: a refresh
        token names whose act it is)."""
        request_id = response.request.headers["X-Request-ID"]
        sent = self._sent[request_id]
        is_anonymous = not (sent.signed_in or by_owner)
        self.expected.append(
            Expected(
                action=action,
                outcome=outcome,
                actor_kind="anonymous" if is_anonymous else "user",
                actor_id=None if is_anonymous else sent.persona.user_id,
                actor_name=None if is_anonymous else sent.username,
                target_type=target_type,
                target_id=target_id,
                request_id=request_id,
                client_ip=sent.persona.ip,
                user_agent=sent.persona.user_agent,
                reason=reason,
                changes=tuple(changes),
            )
        )

    # --- operators and the worker --------------------------------------------------------

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run `portico <args>` against the deployment's database; it must exit 0."""
        if stdin is None:
            done = run_portico(*args, env=self.stack.env, cwd=self.stack.workdir)
        else:
            done = run_portico_with_input(list(args), self.stack.env, self.stack.workdir, stdin)
        assert done.returncode == 0, f"portico {' '.join(args)}: {done.stdout}{done.stderr}"
        return done

    def expect_cli(
        self,
        command: str,
        action: str,
        target_type: str,
        target_id: str | None,
        *,
        changes: Iterable[tuple[str, object, object]] = (),
    ) -> None:
        """`portico <command>` must leave this entry, with the CLI and the command as actor."""
        self.expected.append(
            Expected(
                action=action,
                outcome="success",
                actor_kind="cli",
                process=f"portico {command}",
                target_type=target_type,
                target_id=target_id,
                changes=tuple(changes),
            )
        )

    def expect_worker(
        self, action: str, target_type: str, target_id: str | None, *, times: int = 1
    ) -> None:
        """Jobs or event handlers must leave `times` such entries, with the worker as actor."""
        self.expected.append(
            Expected(
                action=action,
                outcome="success",
                actor_kind="worker",
                target_type=target_type,
                target_id=target_id,
                times=times,
            )
        )


def link_token(body: str) -> str:
    """The one-time token of the link in a mailed body."""
    return body.split("?token=", 1)[1].split(maxsplit=1)[0]


def texted_code(body: str) -> str:
    """The six-digit code of a texted body."""
    found = re.search(r"\b(\d{6})\b", body)
    assert found, body
    return found.group(1)
