"""Schemathesis hooks for the contract fuzz: sign every request in as a registered user.

`st run` loads this file by path (SCHEMATHESIS_HOOKS), in its own process, when the run is
signed in; tests/support/contract_fuzz.py passes the account in FUZZ_BASE_URL, FUZZ_EMAIL
and FUZZ_PASSWORD. A static token would not do: the fuzzer logs out, logs out everywhere,
revokes sessions, and (a sign-in being a fresh step-up, docs/identity.md) changes its own
password or email, after which every request would be a 401. So the provider signs in
again, and schemathesis replays the request that got the 401 once with the new token (its
reactive re-authentication, `retry_on`); when the credentials no longer sign in, it
registers a replacement account and goes on as that one.
"""

import os
import threading
import uuid
from typing import Any

import httpx
import schemathesis
from schemathesis import AuthContext, Case

TOKEN_REUSE_SECONDS = 600
"""How long a token is reused before signing in again: within ACCESS_TOKEN_TTL_SECONDS (900)."""
UNAUTHORIZED = 401


class _Account:
    """The credentials in use; replaced when the fuzzer has changed them."""

    def __init__(self) -> None:
        self.base_url = os.environ["FUZZ_BASE_URL"]
        self.email = os.environ["FUZZ_EMAIL"]
        self.password = os.environ["FUZZ_PASSWORD"]
        self.replacements = 0
        self.lock = threading.Lock()
        # One client, since each new one builds a TLS context (a tenth of a second a sign-in).
        self.client = httpx.Client(base_url=self.base_url, timeout=30)

    def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        """POST as a fresh client would: no cookie of an earlier sign-in goes with it."""
        self.client.cookies.clear()
        return self.client.post(path, json=body)

    def sign_in(self) -> str:
        """A fresh access token: sign in, or register a replacement if that is refused."""
        with self.lock:
            body = {"user": {"email": self.email, "password": self.password}}
            response = self._post("/api/users/login", body)
            if response.status_code == UNAUTHORIZED:
                return self._register_replacement()
            response.raise_for_status()
            return str(response.json()["user"]["token"])

    def _register_replacement(self) -> str:
        self.replacements += 1
        name = f"fuzz{uuid.uuid4().hex[:12]}"
        self.email = f"{name}@fuzz.test"
        body = {"user": {"username": name, "email": self.email, "password": self.password}}
        response = self._post("/api/users", body)
        response.raise_for_status()
        return str(response.json()["user"]["token"])


_ACCOUNT = _Account()


@schemathesis.auth(refresh_interval=TOKEN_REUSE_SECONDS, retry_on=[UNAUTHORIZED])
class FuzzAccountToken:
    """An access token of the fuzz account, from a real sign-in."""

    def get(self, case: Case[Any], context: AuthContext) -> str:
        """Sign in as the fuzz account (or its replacement); fail loudly if that is refused."""
        return _ACCOUNT.sign_in()

    def set(self, case: Case[Any], data: str, context: AuthContext) -> None:
        """Send the token the way Conduit clients do."""
        case.headers["Authorization"] = f"Token {data}"
