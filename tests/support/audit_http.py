"""The audit routes as tests drive them: the app on in-memory adapters, an SSE stream read
event by event through ASGI, and the accounts a test needs (users, an admin)."""

import asyncio
import base64
import contextlib
import json
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import httpx
from dishka import AsyncContainer
from litestar import Litestar

from application.audit.context import acting_as
from application.users.set_role import SetRole, SetRoleCommand
from domain.audit.entry import ActorKind, AuditActor
from domain.users.values import Role
from entrypoints.bootstrap import with_signing_secret
from entrypoints.config import load_settings
from entrypoints.http.app import create_app
from entrypoints.ioc import make_container
from entrypoints.ioc.memory import InMemoryPersistenceProvider

UNREACHABLE = "postgresql://nobody@127.0.0.1:1/none"
PASSWORD = "password123"
FAST_POLLS = {"AUDIT_STREAM_POLL_SECONDS": "0.1", "OUTBOX_RELAY_IN_API": "false"}


def memory_app(tmp_path: Path, **env: str) -> Litestar:
    """The production app on the in-memory adapters, polling the audit log every 0.1 s."""
    settings = with_signing_secret(
        load_settings(
            {"DATABASE_URL": UNREACHABLE, "DATA_DIR": str(tmp_path), **FAST_POLLS, **env},
            env_file=None,
        )
    )
    return create_app(make_container(settings, InMemoryPersistenceProvider()), settings)


@asynccontextmanager
async def served(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """A client on `app` in this event loop, the app started and stopped around it.

    The app's lifespan runs in a task of its own, which enters and leaves it: a fixture's
    setup and teardown run in different tasks, and the lifespan's task group may not.
    """
    started, stop = asyncio.Event(), asyncio.Event()

    async def lifespan() -> None:
        async with app.lifespan():
            started.set()
            await stop.wait()

    running = asyncio.create_task(lifespan())
    waiting = asyncio.create_task(started.wait())
    await asyncio.wait({running, waiting}, return_when=asyncio.FIRST_COMPLETED)
    if running.done():
        waiting.cancel()
        await running  # the start-up failed: raise why
    # httpx types an ASGI app with plain mappings, Litestar with TypedDicts; both are ASGI.
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
    finally:
        stop.set()
        await running


@dataclass(frozen=True)
class Account:
    """A registered user: name, id and the headers that act as them."""

    name: str
    user_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}


def subject_of(token: str) -> str:
    """The user id an access token names (its `sub`), read without checking it."""
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["sub"])


async def register(client: httpx.AsyncClient, prefix: str = "u") -> Account:
    """Sign a new user up through the API."""
    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    body = {"user": {"username": name, "email": f"{name}@test.com", "password": PASSWORD}}
    response = await client.post("/api/users", json=body)
    assert response.status_code == 201, response.text
    token = str(response.json()["user"]["token"])
    return Account(name=name, user_id=subject_of(token), token=token)


async def log_in(client: httpx.AsyncClient, account: Account, **headers: str) -> httpx.Response:
    """Sign in as `account`, with its password."""
    body = {"user": {"email": f"{account.name}@test.com", "password": PASSWORD}}
    return await client.post("/api/users/login", json=body, headers=headers)


async def set_role(app: Litestar, account: Account, role: Role) -> None:
    """Give `account` a role, as an operator does from the CLI (the live role is read per
    request, so its token carries the role from now on)."""
    container: AsyncContainer = app.state.dishka_container
    with acting_as(AuditActor.process_of(ActorKind.CLI, "users set-role")):
        async with container() as scope:
            change = await scope.get(SetRole)
            await change(SetRoleCommand(username=account.name, role=role))


async def audit_page(
    client: httpx.AsyncClient, admin: Account, **query: str | int
) -> dict[str, Any]:
    """One page of `GET /api/admin/audit`, which must be a 200."""
    response = await client.get("/api/admin/audit", params=query, headers=admin.headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def actions(entries: Iterable[dict[str, Any]]) -> list[str]:
    return [entry["action"] for entry in entries]


# --- Server-Sent Events --------------------------------------------------------------------


@dataclass
class Event:
    """One event of a stream: id, name, data lines, and comments (a heartbeat is one)."""

    id: str | None = None
    event: str | None = None
    data: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        decoded: dict[str, Any] = json.loads("\n".join(self.data))
        return decoded


def parse_events(text: str) -> tuple[list[Event], str]:
    """The complete events in `text`, and what is left of an event still arriving."""
    text = text.replace("\r\n", "\n")
    *complete, rest = text.split("\n\n")
    events = []
    for block in complete:
        event = Event()
        for line in block.split("\n"):
            if line.startswith(":"):
                event.comments.append(line[1:].strip())
            elif line.startswith("id:"):
                event.id = line.removeprefix("id:").strip()
            elif line.startswith("event:"):
                event.event = line.removeprefix("event:").strip()
            elif line.startswith("data:"):
                event.data.append(line.removeprefix("data:").lstrip())
        events.append(event)
    return events, rest


class AsgiStream:
    """A GET whose response streams, read through ASGI as it is sent.

    httpx's ASGI transport returns a response only once the app has finished it, which a
    stream never does; this sends the request, hands out each event as it arrives, and
    disconnects like a client going away.
    """

    def __init__(self, app: Litestar, path: str, headers: dict[str, str]) -> None:
        self._app = app
        self._scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        self._requested = False
        self._gone = asyncio.Event()
        self._chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._started = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._pending: list[Event] = []
        self._rest = ""
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = b""

    async def _receive(self) -> dict[str, Any]:
        if not self._requested:
            self._requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = {k.decode(): v.decode() for k, v in message.get("headers", ())}
            self._started.set()
        elif message["type"] == "http.response.body":
            if chunk := message.get("body", b""):
                self._chunks.put_nowait(chunk)
            if not message.get("more_body", False):
                self._chunks.put_nowait(None)

    async def __aenter__(self) -> Self:
        app: Any = self._app
        self._task = asyncio.create_task(app(self._scope, self._receive, self._send))
        async with asyncio.timeout(5):
            await self._started.wait()
        return self

    async def __aexit__(self, *_: object) -> None:
        self._gone.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, timeout=5)

    async def next_event(self, within: float = 5.0) -> Event:
        """The next complete event; AssertionError when the stream ends first."""
        async with asyncio.timeout(within):
            while not self._pending:
                chunk = await self._chunks.get()
                if chunk is None:
                    raise AssertionError(f"the stream ended; left unread: {self._rest!r}")
                self.body += chunk
                events, self._rest = parse_events(self._rest + chunk.decode())
                self._pending.extend(events)
        return self._pending.pop(0)

    async def next_entry(self, within: float = 5.0) -> Event:
        """The next ``audit`` event, past any heartbeat."""
        while (event := await self.next_event(within)).event is None:
            assert event.comments, event
        return event

    async def read_to_end(self, within: float = 5.0) -> bytes:
        """Everything sent until the app ends the response."""
        async with asyncio.timeout(within):
            while (chunk := await self._chunks.get()) is not None:
                self.body += chunk
        return self.body


async def http_events(response: httpx.Response) -> AsyncGenerator[Event, None]:
    """The events of a streamed `text/event-stream` response over HTTP, as they arrive."""
    rest = ""
    async for text in response.aiter_text():
        events, rest = parse_events(rest + text)
        for event in events:
            yield event


async def next_entry(events: AsyncIterator[Event], within: float = 10.0) -> Event:
    """The next ``audit`` event of `events`, past comments, within `within` seconds."""
    async with asyncio.timeout(within):
        while (event := await anext(events)).event is None:
            assert event.comments, event
    return event
