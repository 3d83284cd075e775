"""The pages a one-time link opens: confirm an address, set a new password, undo an email change.

A GET checks that the link's token could still be spent (`CheckLinkToken`), then shows a
form that carries it (moved out of the address into a hidden field) and a CSRF value; it
changes nothing, since mail scanners fetch links. The form's POST spends the token through
the use case the API calls, which checks it again: it may have been spent meanwhile.
Whatever the input (a missing, malformed, forged, expired or used token; a replayed form; a
wrong CSRF value), the answer is a page saying what happened, with a 4xx status, and
nothing changes.
"""

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from dishka.integrations.litestar import FromDishka, inject
from litestar import MediaType, Request, Response, get, post
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_400_BAD_REQUEST,
    HTTP_403_FORBIDDEN,
    HTTP_409_CONFLICT,
    HTTP_410_GONE,
    HTTP_422_UNPROCESSABLE_ENTITY,
)
from litestar.types import ControllerRouterHandler

from application.users.check_link_token import CheckLinkToken, CheckLinkTokenCommand
from application.users.confirm_password_reset import (
    ConfirmPasswordReset,
    ConfirmPasswordResetCommand,
)
from application.users.errors import EmailTakenError, OneTimeTokenNotFoundError
from application.users.restore_email import RestoreEmail, RestoreEmailCommand
from application.users.verify_email import VerifyEmail, VerifyEmailCommand
from domain.shared.errors import DomainError
from domain.users.one_time_token import TokenPurpose
from domain.users.values import PASSWORD_MAX, PASSWORD_MIN
from entrypoints.http.auth import PUBLIC
from entrypoints.http.pages.rendering import PAGE_POLICY
from entrypoints.http.pages.state import Pages, pages_of
from entrypoints.http.rate_limits import auth_route

VERIFY_EMAIL = "/verify-email"
RESET_PASSWORD = "/reset-password"  # noqa: S105 - a path, not a password
RESTORE_EMAIL = "/restore-email"
FORM_PATHS = frozenset({VERIFY_EMAIL, RESET_PASSWORD, RESTORE_EMAIL})
"""The paths whose POST takes an HTML form (`application/x-www-form-urlencoded`)."""

PAGE_OPT = {**PUBLIC, "content_security_policy": PAGE_POLICY}
FORM_OPT = {**auth_route(), "content_security_policy": PAGE_POLICY}
"""A form's POST is limited per client IP like the API's auth routes it stands for."""

_LINK_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,512}")
"""What an issued token looks like (`OpaqueTokens.new_token`); anything else is no link."""
_MAX_FORM_BYTES = 8192
PASSWORD_RULES = (
    f"{PASSWORD_MIN} to {PASSWORD_MAX} characters. Any characters, no composition rules: "
    "a long phrase is a good password."
)
"""What the form says of a new password; the domain's `Password` checks the same bounds."""

Form = Mapping[str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Link:
    """One kind of link: its path, its token's purpose, and what its pages say."""

    path: str
    token_purpose: TokenPurpose
    purpose: str
    title: str
    when_unusable: str


_VERIFY = _Link(
    path=VERIFY_EMAIL,
    token_purpose=TokenPurpose.VERIFY_EMAIL,
    purpose="verify-email",
    title="Confirm your email address",
    when_unusable="Sign in and ask for a new confirmation email from your account settings.",
)
_RESET = _Link(
    path=RESET_PASSWORD,
    token_purpose=TokenPurpose.RESET_PASSWORD,
    purpose="reset-password",
    title="Choose a new password",
    when_unusable="Ask for a new password reset link; the newest link is the one that works.",
)
_RESTORE = _Link(
    path=RESTORE_EMAIL,
    token_purpose=TokenPurpose.RESTORE_EMAIL,
    purpose="restore-email",
    title="Take back your email address",
    when_unusable="If your account's address was changed without your consent, ask for a "
    "password reset at the new address, or contact support.",
)


def _incomplete(pages: Pages) -> Response[str]:
    return pages.message(
        HTTP_400_BAD_REQUEST,
        "This link is incomplete",
        "The address is missing part of its code. Open the link from the email again, or "
        "copy the whole address into your browser. Nothing was changed.",
    )


def _unusable(pages: Pages, link: _Link) -> Response[str]:
    return pages.message(
        HTTP_410_GONE,
        "This link can no longer be used",
        "It has expired, it was used already, or it is not a link we sent. Nothing was changed.",
        link.when_unusable,
    )


def _form_expired(pages: Pages) -> Response[str]:
    return pages.message(
        HTTP_403_FORBIDDEN,
        "This form has expired",
        "It was not sent from the page this link opened, or your browser did not keep that "
        "page's cookie. Nothing was changed. Open the link from the email again, with "
        "cookies allowed for this site, and send the form from there.",
    )


def _token_in(value: str | None) -> str | None:
    return value if value is not None and _LINK_TOKEN.fullmatch(value) else None


async def _read_form(request: Request[Any, Any, Any]) -> Form | None:
    """The posted fields (the first of each name), or None when the body is no form."""
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        return None
    try:
        fields = parse_qs(body.decode(), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return None
    return {name: values[0] for name, values in fields.items()}


async def _show_form(
    request: Request[Any, Any, Any],
    link: _Link,
    token: str | None,
    check: CheckLinkToken,
    template: str,
    **extra: Any,
) -> Response[str]:
    """The link's form, once its token is known to be spendable; else what the POST says."""
    pages = pages_of(request)
    token = _token_in(token)
    if token is None:
        return _incomplete(pages)
    if not await check(CheckLinkTokenCommand(token=token, purpose=link.token_purpose)):
        return _unusable(pages, link)
    csrf, cookie = pages.guard.issue(request, link.purpose, token)
    return pages.render(
        template,
        status=HTTP_200_OK,
        cookies=[cookie],
        **_form_context(link, token, csrf),
        **extra,
    )


def _form_context(link: _Link, token: str, csrf: str) -> dict[str, Any]:
    return {
        "title": link.title,
        "action": link.path,
        "token": token,
        "csrf": csrf,
        "password_min": PASSWORD_MIN,
        "password_max": PASSWORD_MAX,
        "password_rules": PASSWORD_RULES,
    }


async def _submit(
    request: Request[Any, Any, Any],
    link: _Link,
    spend: Callable[[Pages, str, Form], Awaitable[Response[str]]],
) -> Response[str]:
    """Check the form and its CSRF value, then spend the token; a page for every outcome."""
    pages = pages_of(request)
    form = await _read_form(request)
    if form is None:
        return _incomplete(pages)
    token = _token_in(form.get("token"))
    if token is None:
        return _incomplete(pages)
    if not pages.guard.accepts(request, link.purpose, token, form.get("csrf", "")):
        return _form_expired(pages)
    try:
        return await spend(pages, token, form)
    except OneTimeTokenNotFoundError:
        return _unusable(pages, link)


_INTROS = {
    "reset-password": ("Setting it signs you out everywhere; sign in again with the new one.",),
    "restore-email": (
        (
            "This undoes the change of your account's email address, back to the address "
            "this link was sent to. Whoever changed it may know your password, so choose a "
            "new one: every session is signed out."
        ),
    ),
}
_SUBMIT = {"reset-password": "Set my new password", "restore-email": "Restore my address"}


async def _password_page(
    request: Request[Any, Any, Any], link: _Link, token: str | None, check: CheckLinkToken
) -> Response[str]:
    """The new password, twice, under what the link does."""
    return await _show_form(
        request,
        link,
        token,
        check,
        "new_password.html",
        paragraphs=_INTROS[link.purpose],
        submit=_SUBMIT[link.purpose],
        error=None,
    )


def _password_form_again(
    pages: Pages, link: _Link, token: str, form: Form, error: str
) -> Response[str]:
    """The same form, saying what was wrong; the token is not spent."""
    return pages.render(
        "new_password.html",
        status=HTTP_422_UNPROCESSABLE_ENTITY,
        error=error,
        paragraphs=_INTROS[link.purpose],
        submit=_SUBMIT[link.purpose],
        **_form_context(link, token, form.get("csrf", "")),
    )


async def _set_password(
    request: Request[Any, Any, Any],
    link: _Link,
    change: Callable[[str, str], Awaitable[None]],
    done: tuple[str, str],
) -> Response[str]:
    """Check the two entries, then `change(token, password)`; `done` titles the result."""

    async def spend(pages: Pages, token: str, form: Form) -> Response[str]:
        password = form.get("password", "")
        if password != form.get("confirm", ""):
            wrong = "The two passwords differ. Type the same password in both fields."
            return _password_form_again(pages, link, token, form, wrong)
        try:
            await change(token, password)
        except DomainError as exc:
            if exc.field != "password":
                raise
            return _password_form_again(pages, link, token, form, f"The password {exc.message}.")
        except EmailTakenError:
            return pages.message(
                HTTP_409_CONFLICT,
                "That address now belongs to another account",
                "Nothing was changed, and this link still works once that is sorted out. "
                "Contact support to get the address back.",
            )
        return pages.message(HTTP_200_OK, *done)

    return await _submit(request, link, spend)


@get(VERIFY_EMAIL, media_type=MediaType.HTML, opt=PAGE_OPT, cache=False, name="page:verify-email")
@inject
async def confirm_email_page(
    request: Request[Any, Any, Any],
    check_link_token: FromDishka[CheckLinkToken],
    token: str | None = None,
) -> Response[str]:
    """A button that confirms the address; pressing it posts the link's token."""
    return await _show_form(request, _VERIFY, token, check_link_token, "confirm_email.html")


@post(VERIFY_EMAIL, media_type=MediaType.HTML, status_code=HTTP_200_OK, opt=FORM_OPT)
@inject
async def confirm_email(
    request: Request[Any, Any, Any], verify_email: FromDishka[VerifyEmail]
) -> Response[str]:
    """Spend the verification link's token: the address is verified."""

    async def spend(pages: Pages, token: str, _: Form) -> Response[str]:
        await verify_email(VerifyEmailCommand(token=token))
        return pages.message(
            HTTP_200_OK,
            "Your email address is confirmed",
            "Thank you. You can close this page and go back to the app.",
        )

    return await _submit(request, _VERIFY, spend)


@get(RESET_PASSWORD, media_type=MediaType.HTML, opt=PAGE_OPT, cache=False, name="page:reset")
@inject
async def reset_password_page(
    request: Request[Any, Any, Any],
    check_link_token: FromDishka[CheckLinkToken],
    token: str | None = None,
) -> Response[str]:
    """The new password, twice."""
    return await _password_page(request, _RESET, token, check_link_token)


@post(RESET_PASSWORD, media_type=MediaType.HTML, status_code=HTTP_200_OK, opt=FORM_OPT)
@inject
async def reset_password(
    request: Request[Any, Any, Any], confirm_password_reset: FromDishka[ConfirmPasswordReset]
) -> Response[str]:
    """Spend the reset link's token: the new password is set, and every session ends."""

    async def change(token: str, password: str) -> None:
        await confirm_password_reset(ConfirmPasswordResetCommand(token=token, password=password))

    done = (
        "Your password is changed",
        "Every session of your account was signed out. Sign in again with your new password.",
    )
    return await _set_password(request, _RESET, change, done)


@get(RESTORE_EMAIL, media_type=MediaType.HTML, opt=PAGE_OPT, cache=False, name="page:restore")
@inject
async def restore_email_page(
    request: Request[Any, Any, Any],
    check_link_token: FromDishka[CheckLinkToken],
    token: str | None = None,
) -> Response[str]:
    """What undoing the change does, and the new password, twice."""
    return await _password_page(request, _RESTORE, token, check_link_token)


@post(RESTORE_EMAIL, media_type=MediaType.HTML, status_code=HTTP_200_OK, opt=FORM_OPT)
@inject
async def restore_email(
    request: Request[Any, Any, Any], restore_email: FromDishka[RestoreEmail]
) -> Response[str]:
    """Spend the restore link's token: the old address is back, with a new password."""

    async def change(token: str, password: str) -> None:
        await restore_email(RestoreEmailCommand(token=token, password=password))

    done = (
        "Your email address is back",
        (
            "The change of address was undone and your new password is set. Every session "
            "was signed out: sign in with this address and the new password."
        ),
    )
    return await _set_password(request, _RESTORE, change, done)


TOKEN_PAGES: tuple[ControllerRouterHandler, ...] = (
    confirm_email_page,
    confirm_email,
    reset_password_page,
    reset_password,
    restore_email_page,
    restore_email,
)
