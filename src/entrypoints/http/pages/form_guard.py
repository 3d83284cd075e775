"""CSRF protection for the pages' forms: a signed double-submit token bound to the link.

The browser holds a random nonce in a cookie (HttpOnly, SameSite=Strict, and Secure with the
``__Host-`` prefix when the service is reached over https). Each form carries
HMAC(key, purpose, nonce, link token) in a hidden field. A POST is taken only when the
field matches the cookie it came with and the link token it carries, so another site can
neither read nor forge it, and a field copied from one link's form is worthless on
another's. A browser's ``Sec-Fetch-Site``, when sent, must say the post came from this
origin. The key is derived from JWT_SECRET, so every process of a deployment agrees.
"""

import hashlib
import hmac
import re
import secrets
from typing import Any

from litestar import Request
from litestar.datastructures import Cookie

_LABEL = b"portico page forms v1"
_NONCE = re.compile(r"[A-Za-z0-9_-]{43}")
_SAME_ORIGIN = frozenset({"same-origin", "none"})
COOKIE_MAX_AGE_SECONDS = 7 * 24 * 3600
"""As long as the longest-lived link (the email restore link's default), so a form left open
keeps working."""


class FormGuard:
    """Issues and checks the forms' CSRF tokens."""

    def __init__(self, *, secret: str | None, secure: bool) -> None:
        key_material = secret.encode() if secret is not None else secrets.token_bytes(32)
        self._key = hmac.new(key_material, _LABEL, hashlib.sha256).digest()
        self._secure = secure
        self.cookie_name = "__Host-portico-form" if secure else "portico-form"

    def nonce_of(self, request: Request[Any, Any, Any]) -> str | None:
        """The browser's nonce, if its cookie holds a well-formed one."""
        nonce = request.cookies.get(self.cookie_name, "")
        return nonce if _NONCE.fullmatch(nonce) else None

    def issue(
        self, request: Request[Any, Any, Any], purpose: str, token: str
    ) -> tuple[str, Cookie]:
        """The form's CSRF value for `token`, and the cookie to set.

        The cookie holds the browser's nonce, kept when it has one, so forms open in several
        tabs all stay valid.
        """
        nonce = self.nonce_of(request) or secrets.token_urlsafe(32)
        cookie = Cookie(
            key=self.cookie_name,
            value=nonce,
            path="/",
            max_age=COOKIE_MAX_AGE_SECONDS,
            secure=self._secure,
            httponly=True,
            samesite="strict",
        )
        return self._sign(purpose, nonce, token), cookie

    def accepts(
        self, request: Request[Any, Any, Any], purpose: str, token: str, value: str
    ) -> bool:
        """Whether a posted form's CSRF `value` is the one issued to this browser for `token`."""
        if request.headers.get("sec-fetch-site", "same-origin") not in _SAME_ORIGIN:
            return False
        nonce = self.nonce_of(request)
        if nonce is None or not value.isascii():
            return False
        return hmac.compare_digest(self._sign(purpose, nonce, token), value)

    def _sign(self, purpose: str, nonce: str, token: str) -> str:
        message = f"{purpose}\x00{nonce}\x00{token}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()
