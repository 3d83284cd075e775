"""Refusals at the edge, on the in-memory adapters: a caller without `audit:read` gets 403
on every admin route, and the attempt is recorded as ``route.access``; a sign-in over the
per-IP limit is recorded as ``user.login``; each at most once per caller and route a
minute, and a failure to record never changes the answer.
"""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from litestar import Litestar

from application.audit.policy import MAX_PAGE
from application.audit.record_denial import RecordDenial
from domain.users.values import Role
from tests.support.audit_http import (
    Account,
    audit_page,
    log_in,
    memory_app,
    register,
    served,
    set_role,
)

ADMIN_ROUTES = ("/api/admin/audit", "/api/admin/audit/stream")
"""Every route that needs `audit:read`; the stream is asked for like any GET."""
NEEDS_AUDIT_READ = {"errors": {"permission": ["is required: audit:read"]}}


@pytest.fixture
def app(tmp_path: Path) -> Litestar:
    return memory_app(tmp_path)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with served(app) as client:
        yield client


@pytest.fixture
async def admin(app: Litestar, client: httpx.AsyncClient) -> Account:
    account = await register(client, "admin")
    await set_role(app, account, Role.ADMIN)
    return account


async def test_a_non_admin_is_refused_and_the_attempt_is_recorded_once_a_minute(
    app: Litestar, client: httpx.AsyncClient, admin: Account
) -> None:
    user = await register(client, "nosy")
    moderator = await register(client, "mod")
    await set_role(app, moderator, Role.MODERATOR)
    for caller in (user, moderator):
        for _ in range(3):
            for path in ADMIN_ROUTES:
                response = await client.get(path, headers=caller.headers)
                assert response.status_code == 403, (path, response.text)
                assert response.json() == NEEDS_AUDIT_READ
    anonymous = await client.get("/api/admin/audit")
    assert anonymous.status_code == 401

    denied = (await audit_page(client, admin, action="route.access", limit=MAX_PAGE))["entries"]
    by_caller = sorted((e["actor"]["userId"], e["target"]["id"]) for e in denied)
    assert by_caller == sorted(
        (caller.user_id, f"GET {path}") for caller in (user, moderator) for path in ADMIN_ROUTES
    )
    for entry in denied:
        assert entry["outcome"] == "denied"
        assert entry["target"]["type"] == "route"
        assert entry["reason"] == "missing_permission:audit:read"
        assert entry["actor"]["kind"] == "user"
        assert entry["requestId"]


async def test_a_rate_limited_sign_in_is_recorded_once_a_minute(tmp_path: Path) -> None:
    app = memory_app(tmp_path, RATE_LIMIT_AUTH_PER_IP="2")
    async with served(app) as client:
        admin = await register(client, "admin")
        await set_role(app, admin, Role.ADMIN)
        statuses = [(await log_in(client, admin)).status_code for _ in range(5)]
        assert statuses == [200, 200, 429, 429, 429]
        limited = [
            e
            for e in (await audit_page(client, admin, action="user.login"))["entries"]
            if e["reason"] == "rate_limited"
        ]
    (entry,) = limited
    assert entry["outcome"] == "denied"
    assert entry["target"] == {"type": "user", "id": None}
    assert entry["actor"]["kind"] == "anonymous"
    assert entry["clientIp"] == "127.0.0.1"


async def test_a_failure_to_record_a_refusal_does_not_change_the_answer(
    client: httpx.AsyncClient, admin: Account, app: Litestar, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []

    async def broken(self: RecordDenial, command: object) -> None:
        del self
        calls.append(command)
        raise RuntimeError("the audit log is on fire")

    monkeypatch.setattr(RecordDenial, "__call__", broken)
    user = await register(client)
    response = await client.get("/api/admin/audit", headers=user.headers)
    assert response.status_code == 403
    assert response.json() == NEEDS_AUDIT_READ
    assert len(calls) == 1
    monkeypatch.undo()
    assert (await audit_page(client, admin, action="route.access"))["entries"] == []
