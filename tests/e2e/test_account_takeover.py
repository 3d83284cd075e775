"""A stolen access token cannot take the account for good: against `portico serve`.

Each test replays an attack from the security review (issue 25) on a real server and
PostgreSQL, and fails on the code before the fix: the silent takeover through
`PUT /api/user`, the old reset link used after an email change, the verification-token
swap, and the access token stretched through `GET /api/user`.
"""

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.mail import mailed, mailed_token
from tests.support.network import free_port
from tests.support.server import RunningServer, clean_env, portico_server

pytestmark = pytest.mark.e2e

STEP_UP_WINDOW_SECONDS = 1
EMAIL_CHANGED = "The email address of your account was changed"
PASSWORD_CHANGED = "The password of your account was changed"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("takeover-data")


@pytest.fixture(scope="module")
def server(
    migrated_url: str, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    env = clean_env(
        DATABASE_URL=migrated_url,
        DATA_DIR=str(data_dir),
        RATE_LIMIT_AUTH_PER_IP="1000",
        RATE_LIMIT_REGISTRATIONS_PER_IP="1000",
        STEP_UP_WINDOW_SECONDS=str(STEP_UP_WINDOW_SECONDS),
    )
    with portico_server(free_port(), env, tmp_path_factory.mktemp("takeover")) as running:
        yield running


@pytest.fixture
def api(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield client


def register(api: httpx.Client) -> dict[str, Any]:
    name = f"v{uuid.uuid4().hex[:12]}"
    body = {"user": {"username": name, "email": f"{name}@test.com", "password": "password123"}}
    answer = api.post("/api/users", json=body)
    assert answer.status_code == 201, answer.text
    user: dict[str, Any] = answer.json()["user"]
    return user


def bearer(user: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Token {user['token']}"}


def log_in(api: httpx.Client, address: str, password: str) -> httpx.Response:
    return api.post("/api/users/login", json={"user": {"email": address, "password": password}})


def wait_out_the_step_up_window() -> None:
    time.sleep(STEP_UP_WINDOW_SECONDS + 0.2)


def test_a_stolen_token_cannot_change_the_email_or_password_alone(api: httpx.Client) -> None:
    victim = register(api)
    wait_out_the_step_up_window()
    takeover = {"user": {"email": f"mallory-{victim['username']}@evil.test", "password": "x" * 12}}
    refused = api.put("/api/user", json=takeover, headers=bearer(victim))
    assert refused.status_code == 403
    assert refused.json() == {
        "errors": {"currentPassword": ["is required to change the email or password"]}
    }
    guessed = api.put(
        "/api/user",
        json={"user": {**takeover["user"], "currentPassword": "guess-guess"}},
        headers=bearer(victim),
    )
    assert guessed.status_code == 403
    assert guessed.json() == {"errors": {"currentPassword": ["is incorrect"]}}
    assert log_in(api, victim["email"], "password123").status_code == 200


def test_the_owner_is_told_at_the_old_address_and_can_take_it_back(
    api: httpx.Client, data_dir: Path
) -> None:
    victim = register(api)
    old_address = victim["email"]
    new_address = f"mallory-{victim['username']}@evil.test"
    attacker_session = log_in(api, old_address, "password123").json()["user"]
    changed = api.put(
        "/api/user",
        json={
            "user": {
                "email": new_address,
                "password": "attackers-own-1",
                "currentPassword": "password123",
            }
        },
        headers=bearer(attacker_session),
    )
    assert changed.status_code == 200, changed.text
    notice = mailed(data_dir, old_address, EMAIL_CHANGED)
    assert new_address not in notice
    assert f"{new_address[0]}***@evil.test" in notice
    assert "restore-email?token=" in notice
    mailed(data_dir, old_address, PASSWORD_CHANGED)
    restore = mailed_token(data_dir, old_address, EMAIL_CHANGED)
    restored = api.post(
        "/api/auth/restore-email", json={"token": restore, "password": "owners-again-1"}
    )
    assert restored.status_code == 204, restored.text
    assert api.get("/api/user", headers=bearer(attacker_session)).status_code == 401
    assert log_in(api, new_address, "attackers-own-1").status_code == 401
    assert log_in(api, old_address, "attackers-own-1").status_code == 401
    assert log_in(api, old_address, "owners-again-1").status_code == 200
    again = api.post("/api/auth/restore-email", json={"token": restore, "password": "x" * 12})
    assert again.status_code == 404


def test_an_old_reset_link_dies_with_an_email_change(api: httpx.Client, data_dir: Path) -> None:
    victim = register(api)
    old_address = victim["email"]
    assert api.post("/api/auth/password-reset", json={"email": old_address}).status_code == 202
    reset = mailed_token(data_dir, old_address, "Reset your password")
    moved = api.put(
        "/api/user",
        json={"user": {"email": f"moved-{old_address}", "currentPassword": "password123"}},
        headers=bearer(victim),
    )
    assert moved.status_code == 200, moved.text
    used = api.post(
        "/api/auth/password-reset/confirm", json={"token": reset, "password": "reset-pass-1"}
    )
    assert used.status_code == 404
    assert used.json() == {"errors": {"token": ["is invalid or has expired"]}}


def test_a_verification_token_cannot_verify_another_address(
    api: httpx.Client, data_dir: Path
) -> None:
    mallory = register(api)
    mailed_to_mallory = mailed_token(data_dir, mallory["email"])
    target = f"ceo-{mallory['username']}@victim.test"
    swapped = api.put(
        "/api/user",
        json={"user": {"email": target, "currentPassword": "password123"}},
        headers=bearer(mallory),
    )
    assert swapped.status_code == 200, swapped.text
    refused = api.post("/api/auth/verify-email", json={"token": mailed_to_mallory})
    assert refused.status_code == 404
    mailed_to_target = mailed_token(data_dir, target)
    assert api.post("/api/auth/verify-email", json={"token": mailed_to_target}).status_code == 204


def test_reading_or_changing_the_account_hands_back_the_same_token(api: httpx.Client) -> None:
    user = register(api)
    read = api.get("/api/user", headers=bearer(user))
    assert read.status_code == 200
    assert read.json()["user"]["token"] == user["token"]
    changed = api.put("/api/user", json={"user": {"bio": "still me"}}, headers=bearer(user))
    assert changed.status_code == 200
    assert changed.json()["user"]["token"] == user["token"]
