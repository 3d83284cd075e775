"""Accounts on a running `portico serve`, driven over HTTP: signed up, signed in, refreshed.

Each `new_user` is a fresh account signed in with its refresh token in the body
(`BODY_DELIVERY`), as a client that keeps the token itself asks; `mailed_token` reads the
token of the link the server's file mailer wrote.
"""

import uuid
from typing import Any

import httpx

from tests.support.mail import mailed_token as mailed_link_token

BODY_DELIVERY = {"Refresh-Token-Delivery": "body"}
"""A client that keeps the refresh token itself, as these tests do, asks for it in the body."""


def new_user(api: httpx.Client) -> tuple[str, dict[str, Any]]:
    name = f"u{uuid.uuid4().hex[:12]}"
    body = {"user": {"username": name, "email": f"{name}@test.com", "password": "password123"}}
    assert api.post("/api/users", json=body).status_code == 201
    login = api.post(
        "/api/users/login",
        json={"user": {"email": f"{name}@test.com", "password": "password123"}},
        headers=BODY_DELIVERY,
    )
    assert login.status_code == 200, login.text
    return name, login.json()["user"]


def auth(user: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Token {user['token']}"}


def refresh(api: httpx.Client, token: str) -> httpx.Response:
    return api.post("/api/auth/refresh", json={"refreshToken": token})


def mailed_token(
    env: dict[str, str], address: str, subject: str = "Confirm your email address"
) -> str:
    """Wait for the server's file mailer to write that email to `address`; return its token."""
    return mailed_link_token(env["DATA_DIR"], address, subject)
