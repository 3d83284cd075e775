"""Users against `portico serve` on PostgreSQL: sessions, bans, limits, permissions."""

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.network import free_port
from tests.support.server import (
    RunningServer,
    clean_env,
    portico_server,
    run_portico,
    run_portico_with_input,
)
from tests.support.user_sessions import BODY_DELIVERY, auth, mailed_token, new_user, refresh

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def env(migrated_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    data_dir = tmp_path_factory.mktemp("identity-data")
    return clean_env(
        DATABASE_URL=migrated_url,
        DATA_DIR=str(data_dir),
        RATE_LIMIT_AUTH_PER_IP="1000",
        RATE_LIMIT_REGISTRATIONS_PER_IP="1000",
    )


@pytest.fixture(scope="module")
def server(
    env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    with portico_server(free_port(), env, tmp_path_factory.mktemp("identity")) as running:
        yield running


@pytest.fixture
def api(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield client


def test_login_sets_a_hardened_refresh_cookie(api: httpx.Client) -> None:
    name, _ = new_user(api)
    login = api.post(
        "/api/users/login", json={"user": {"email": f"{name}@test.com", "password": "password123"}}
    )
    cookie = login.headers["set-cookie"].lower()
    assert cookie.startswith("refresh_token=")
    assert len(login.cookies["refresh_token"]) >= 40
    for attribute in ("httponly", "secure", "samesite=strict", "path=/api/auth", "max-age="):
        assert attribute in cookie


def test_refresh_rotates_by_body_and_by_cookie(api: httpx.Client) -> None:
    _, user = new_user(api)
    rotated = refresh(api, user["refreshToken"])
    assert rotated.status_code == 200
    body = rotated.json()["user"]
    assert body["refreshToken"] != user["refreshToken"]
    by_cookie = api.post(
        "/api/auth/refresh", headers={"Cookie": f"refresh_token={body['refreshToken']}"}
    )
    assert by_cookie.status_code == 200
    assert api.get("/api/user", headers=auth(by_cookie.json()["user"])).status_code == 200


def test_reusing_a_rotated_refresh_token_revokes_the_family(api: httpx.Client) -> None:
    """From another client, so not a repeat the grace period forgives (test_refresh_reuse_grace)."""
    _, user = new_user(api)
    rotated = refresh(api, user["refreshToken"]).json()["user"]
    replay = api.post(
        "/api/auth/refresh",
        json={"refreshToken": user["refreshToken"]},
        headers={"User-Agent": "thief/1.0"},
    )
    assert replay.status_code == 401
    assert replay.json() == {"errors": {"token": ["is invalid"]}}
    assert refresh(api, rotated["refreshToken"]).status_code == 401


def test_refresh_without_a_token_is_401(api: httpx.Client) -> None:
    response = api.post("/api/auth/refresh")
    assert response.status_code == 401
    assert response.json() == {"errors": {"token": ["is missing"]}}


def test_logout_ends_this_session_only(api: httpx.Client) -> None:
    name, laptop = new_user(api)
    phone = api.post(
        "/api/users/login",
        json={"user": {"email": f"{name}@test.com", "password": "password123"}},
        headers=BODY_DELIVERY,
    ).json()["user"]
    response = api.post("/api/auth/logout", headers=auth(laptop))
    assert response.status_code == 204
    assert "refresh_token=" in response.headers["set-cookie"]
    assert refresh(api, laptop["refreshToken"]).status_code == 401
    assert refresh(api, phone["refreshToken"]).status_code == 200


def test_logout_all_ends_every_session(api: httpx.Client) -> None:
    name, first = new_user(api)
    second = api.post(
        "/api/users/login",
        json={"user": {"email": f"{name}@test.com", "password": "password123"}},
        headers=BODY_DELIVERY,
    ).json()["user"]
    assert api.post("/api/auth/logout-all", headers=auth(first)).status_code == 204
    assert refresh(api, first["refreshToken"]).status_code == 401
    assert refresh(api, second["refreshToken"]).status_code == 401


def test_sessions_are_listed_and_revocable_by_their_owner_only(api: httpx.Client) -> None:
    _, ada = new_user(api)
    _, bob = new_user(api)
    listed = api.get("/api/auth/sessions", headers=auth(ada))
    assert listed.status_code == 200
    sessions = listed.json()["sessions"]
    assert len(sessions) == 2  # one opened at registration, one at login
    (session,) = [s for s in sessions if s["current"]]
    assert {"id", "device", "ip", "createdAt", "lastUsedAt"} <= set(session)
    stolen = api.delete(f"/api/auth/sessions/{session['id']}", headers=auth(bob))
    assert stolen.status_code == 404
    assert stolen.json() == {"errors": {"session": ["not found"]}}
    assert refresh(api, ada["refreshToken"]).status_code == 200
    assert api.delete(f"/api/auth/sessions/{session['id']}", headers=auth(ada)).status_code == 204
    assert refresh(api, ada["refreshToken"]).status_code == 401
    assert api.get("/api/auth/sessions", headers=auth(ada)).status_code == 401


def test_session_routes_need_a_token(api: httpx.Client) -> None:
    for method, path in [
        ("POST", "/api/auth/logout"),
        ("POST", "/api/auth/logout-all"),
        ("GET", "/api/auth/sessions"),
        ("DELETE", f"/api/auth/sessions/{uuid.uuid4()}"),
    ]:
        response = api.request(method, path)
        assert response.status_code == 401, path
        assert response.json() == {"errors": {"token": ["is missing"]}}


def test_a_banned_user_cannot_sign_in_or_refresh(
    api: httpx.Client, env: dict[str, str], tmp_path: Path
) -> None:
    name, user = new_user(api)
    banned = run_portico("users", "ban", name, env=env, cwd=tmp_path)
    assert banned.returncode == 0, banned.stderr
    login = api.post(
        "/api/users/login", json={"user": {"email": f"{name}@test.com", "password": "password123"}}
    )
    assert login.status_code == 403
    assert login.json() == {"errors": {"account": ["is banned"]}}
    assert refresh(api, user["refreshToken"]).status_code == 401
    assert api.get("/api/user", headers=auth(user)).status_code == 401
    assert run_portico("users", "unban", name, env=env, cwd=tmp_path).returncode == 0
    again = api.post(
        "/api/users/login", json={"user": {"email": f"{name}@test.com", "password": "password123"}}
    )
    assert again.status_code == 200


def test_a_user_cannot_reach_another_users_account(api: httpx.Client) -> None:
    ada_name, ada = new_user(api)
    bob_name, _ = new_user(api)
    changed = api.put("/api/user", json={"user": {"username": bob_name}}, headers=auth(ada))
    assert changed.status_code == 409
    mine = api.get("/api/user", headers=auth(ada)).json()["user"]
    assert mine["username"] == ada_name


def test_an_admin_created_from_the_cli_can_sign_in(
    api: httpx.Client, env: dict[str, str], tmp_path: Path
) -> None:
    name = f"admin{uuid.uuid4().hex[:8]}"
    created = run_portico_with_input(
        [
            "users",
            "create-admin",
            "--email",
            f"{name}@test.com",
            "--username",
            name,
            "--password-stdin",
        ],
        env,
        tmp_path,
        "a-long-admin-password\n",
    )
    assert created.returncode == 0, created.stderr
    login = api.post(
        "/api/users/login",
        json={"user": {"email": f"{name}@test.com", "password": "a-long-admin-password"}},
    )
    assert login.status_code == 200
    assert (
        run_portico("users", "set-role", name, "moderator", env=env, cwd=tmp_path).returncode == 0
    )


def test_over_the_limit_is_429_with_retry_after(migrated_url: str, tmp_path: Path) -> None:
    env = clean_env(DATABASE_URL=migrated_url, DATA_DIR=str(tmp_path), RATE_LIMIT_AUTH_PER_IP="5")
    with (
        portico_server(free_port(), env, tmp_path) as running,
        httpx.Client(base_url=running.base_url) as api,
    ):
        body = {"user": {"email": "nobody@test.com", "password": "password123"}}
        statuses = [api.post("/api/users/login", json=body).status_code for _ in range(6)]
        assert statuses == [401] * 5 + [429]
        limited = api.post("/api/users/login", json=body)
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1


def test_email_verification_through_the_mailed_link(api: httpx.Client, env: dict[str, str]) -> None:
    name, _ = new_user(api)
    token = mailed_token(env, f"{name}@test.com")
    assert api.post("/api/auth/verify-email", json={"token": token}).status_code == 204
    again = api.post("/api/auth/verify-email", json={"token": token})
    assert again.status_code == 404
    assert again.json() == {"errors": {"token": ["is invalid or has expired"]}}


def test_password_reset_end_to_end(api: httpx.Client, env: dict[str, str]) -> None:
    name, user = new_user(api)
    address = f"{name}@test.com"
    unknown = api.post("/api/auth/password-reset", json={"email": f"ghost-{name}@test.com"})
    known = api.post("/api/auth/password-reset", json={"email": address})
    assert unknown.status_code == known.status_code == 202
    assert unknown.json() == known.json()
    token = mailed_token(env, address, subject="Reset your password")
    confirmed = api.post(
        "/api/auth/password-reset/confirm", json={"token": token, "password": "reset-password-9"}
    )
    assert confirmed.status_code == 204
    assert refresh(api, user["refreshToken"]).status_code == 401
    old = api.post("/api/users/login", json={"user": {"email": address, "password": "password123"}})
    assert old.status_code == 401
    new = api.post(
        "/api/users/login", json={"user": {"email": address, "password": "reset-password-9"}}
    )
    assert new.status_code == 200
    reused = api.post(
        "/api/auth/password-reset/confirm", json={"token": token, "password": "another-one-99"}
    )
    assert reused.status_code == 404


def test_mail_goes_only_to_an_address_a_header_reads_as_itself(api: httpx.Client) -> None:
    name, user = new_user(api)
    misread = f"{name},evil@test.com"
    signed_up = api.post(
        "/api/users",
        json={"user": {"username": f"{name}x", "email": misread, "password": "password123"}},
    )
    changed = api.put("/api/user", json={"user": {"email": misread}}, headers=auth(user))
    reset = api.post("/api/auth/password-reset", json={"email": misread})
    for refused in (signed_up, changed, reset):
        assert refused.status_code == 422, refused.text
        assert refused.json() == {"errors": {"email": ["is invalid"]}}


def test_access_tokens_die_with_their_session(
    api: httpx.Client, env: dict[str, str], tmp_path: Path
) -> None:
    name, user = new_user(api)
    renewed = api.get("/api/user", headers=auth(user)).json()["user"]
    assert api.post("/api/auth/logout-all", headers=auth(user)).status_code == 204
    for token_holder in (user, renewed):
        assert api.get("/api/user", headers=auth(token_holder)).status_code == 401
        assert (
            api.post(f"/api/profiles/{name}/follow", headers=auth(token_holder)).status_code == 401
        )
    other_name, other = new_user(api)
    assert run_portico("users", "ban", other_name, env=env, cwd=tmp_path).returncode == 0
    assert api.get("/api/auth/sessions", headers=auth(other)).status_code == 401


def test_parallel_wrong_passwords_stop_at_the_account_limit(api: httpx.Client) -> None:
    name, _ = new_user(api)
    body = {"user": {"email": f"{name}@test.com", "password": "wrong-password"}}
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(
            pool.map(lambda _: api.post("/api/users/login", json=body).status_code, range(30))
        )
    assert statuses.count(401) == 10
    assert statuses.count(429) == 20


def test_nul_and_control_characters_are_4xx_not_500(api: httpx.Client) -> None:
    _, user = new_user(api)
    bad_bio = api.put("/api/user", json={"user": {"bio": "a\u0000b"}}, headers=auth(user))
    assert bad_bio.status_code == 422
    nul_in_path = (422, {"errors": {"username": ["may not contain the NUL character"]}})
    profile = api.get("/api/profiles/a%00b")
    assert (profile.status_code, profile.json()) == nul_in_path
    follow = api.post("/api/profiles/a%00b/follow", headers=auth(user))
    assert (follow.status_code, follow.json()) == nul_in_path
    nul_password = api.post(
        "/api/users",
        json={"user": {"username": "nul1x", "email": "nul1x@t.co", "password": "pass\u0000word1"}},
    )
    assert nul_password.status_code == 422


def test_role_paths_user_moderator_and_admin(
    api: httpx.Client, env: dict[str, str], tmp_path: Path
) -> None:
    target, _ = new_user(api)
    user_name, user = new_user(api)
    moderator_name, moderator = new_user(api)
    admin_name, admin = new_user(api)
    assert (
        run_portico(
            "users", "set-role", moderator_name, "moderator", env=env, cwd=tmp_path
        ).returncode
        == 0
    )
    assert (
        run_portico("users", "set-role", admin_name, "admin", env=env, cwd=tmp_path).returncode == 0
    )
    ban = f"/api/admin/users/{target}/ban"
    for caller in (user, moderator):
        denied = api.post(ban, headers=auth(caller))
        assert denied.status_code == 403
        assert denied.json() == {"errors": {"permission": ["is required: users:manage"]}}
    assert api.post(ban, json={"reason": "spam"}, headers=auth(admin)).status_code == 204
    login = api.post(
        "/api/users/login",
        json={"user": {"email": f"{target}@test.com", "password": "password123"}},
    )
    assert login.status_code == 403
    assert api.delete(ban, headers=auth(admin)).status_code == 204
    promote = api.put(
        f"/api/admin/users/{user_name}/role", json={"role": "admin"}, headers=auth(admin)
    )
    assert promote.status_code == 204
    assert api.delete(ban, headers=auth(user)).status_code == 204, "the promotion is live at once"
    demote = api.put(
        f"/api/admin/users/{user_name}/role", json={"role": "user"}, headers=auth(admin)
    )
    assert demote.status_code == 204
    assert api.post(ban, headers=auth(user)).status_code == 403, "so is the demotion"
    bad_role = api.put(
        f"/api/admin/users/{user_name}/role", json={"role": "wizard"}, headers=auth(admin)
    )
    assert bad_role.status_code == 422
    missing = api.post("/api/admin/users/nobody-here/ban", headers=auth(admin))
    assert missing.status_code == 404
    assert api.post(ban).status_code == 401


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(
    migrated_url: str, tmp_path: Path
) -> None:
    env = clean_env(
        DATABASE_URL=migrated_url,
        DATA_DIR=str(tmp_path),
        RATE_LIMIT_AUTH_PER_IP="2",
        TRUSTED_PROXIES="127.0.0.1",
    )
    body = {"user": {"email": "nobody@test.com", "password": "password123"}}
    with (
        portico_server(free_port(), env, tmp_path) as running,
        httpx.Client(base_url=running.base_url) as api,
    ):

        def login(client_ip: str) -> int:
            headers = {"X-Forwarded-For": f"6.6.6.6, {client_ip}"}
            return api.post("/api/users/login", json=body, headers=headers).status_code

        assert [login("198.51.100.1") for _ in range(3)] == [401, 401, 429]
        assert login("198.51.100.2") == 401
