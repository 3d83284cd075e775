"""The scenario's account flows: signing up and in, sessions, recovery, roles and bans.

Each flow acts through the API or the CLI as a person or an operator would, and notes on
the `Driver` the audit entries it must leave. Mail is read from the server's file mailer.
"""

import base64
import email
import email.policy
import json
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

import httpx

from tests.support.audit_scenario import REDACTED, Driver, Persona, link_token, strong_password
from tests.support.audit_stack import AUTH_LIMIT
from tests.support.pages import hidden_fields, link_in, path_and_query

BODY_DELIVERY = {"Refresh-Token-Delivery": "body"}
LOGIN = "/api/users/login"
ADMIN_AUDIT = "/api/admin/audit"


def claims(token: str) -> dict[str, str]:
    """An access token's claims, read without checking it: `sub` the user, `sid` the session."""
    payload = token.split(".")[1]
    decoded: dict[str, str] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


def keep_sign_in(persona: Persona, response: httpx.Response) -> str:
    """Keep the tokens a sign-in answered with; the new session's id."""
    user = response.json()["user"]
    persona.token, persona.refresh_token = user["token"], user["refreshToken"]
    persona.user_id = claims(persona.token)["sub"]
    return claims(persona.token)["sid"]


def device(d: Driver, persona: Persona, label: str) -> Persona:
    """The same person at another device: their account, another address and browser."""
    other = d.persona(f"{persona.label}-{label}", name=persona.name)
    other.email, other.password, other.user_id = persona.email, persona.password, persona.user_id
    return other


def mails(data_dir: Path, address: str, subject: str, count: int = 1) -> list[str]:
    """The plain-text bodies of mail to `address` about `subject`, oldest first, once there
    are `count` of them (waiting up to 20 s: in service mode the worker sends it)."""
    deadline = time.monotonic() + 20
    while True:
        found = []
        paths = sorted((data_dir / "mail").glob("*.eml"), key=lambda path: path.stat().st_mtime_ns)
        for path in paths:
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            if message["To"] == address and subject in str(message["Subject"]):
                body = message.get_body(preferencelist=("plain",))
                assert body is not None
                found.append(str(body.get_content()))
        if len(found) >= count:
            return found
        assert time.monotonic() < deadline, f"{len(found)} mail to {address} about {subject!r}"
        time.sleep(0.1)


def register(d: Driver, label: str) -> Persona:
    persona = d.persona(label)
    body = {
        "user": {"username": persona.name, "email": persona.email, "password": persona.password}
    }
    response = d.http(
        persona, "POST", "/api/users", 201, signed_in=False, headers=BODY_DELIVERY, json=body
    )
    keep_sign_in(persona, response)
    d.expect(response, "user.register", "user", persona.user_id)
    return persona


def log_in(d: Driver, persona: Persona) -> str:
    """Sign in with the current password; the new session's id."""
    body = {"user": {"email": persona.email, "password": persona.password}}
    response = d.http(
        persona, "POST", LOGIN, 200, signed_in=False, headers=BODY_DELIVERY, json=body
    )
    session = keep_sign_in(persona, response)
    d.expect(response, "user.login", "user", persona.user_id)
    return session


def create_admin(d: Driver) -> Persona:
    """`portico users create-admin`, then the new admin signs in."""
    admin = d.persona("admin")
    d.cli(
        "users",
        "create-admin",
        "--email",
        admin.email,
        "--username",
        admin.name,
        "--password-stdin",
        stdin=f"{admin.password}\n",
    )
    log_in(d, admin)
    d.expect_cli("users create-admin", "user.create_admin", "user", admin.user_id)
    return admin


def profile_and_credentials(d: Driver, alice: Persona) -> None:
    """A new bio; a new email and password, refused without step-up, then made with it; the
    new address verified through a resent link."""
    bio = f"Writes about audits {uuid.uuid4().hex[:6]}"
    response = d.http(alice, "PUT", "/api/user", 200, json={"user": {"bio": bio}})
    d.expect(response, "user.update", "user", alice.user_id, changes=[("bio", None, bio)])

    old_email, new_email = alice.email, f"moved-{alice.email}"
    new_password = strong_password("alice-changed")
    change = {"email": new_email, "password": new_password}
    refused = d.http(alice, "PUT", "/api/user", 403, json={"user": change})
    d.expect(
        refused, "user.update", "user", alice.user_id, outcome="denied", reason="step_up_required"
    )
    proven = {**change, "currentPassword": alice.password}
    changed = d.http(alice, "PUT", "/api/user", 200, json={"user": proven})
    d.expect(
        changed,
        "user.update",
        "user",
        alice.user_id,
        changes=[("email", old_email, new_email), ("password", REDACTED, REDACTED)],
    )
    alice.email, alice.password = new_email, new_password

    mails(d.stack.data_dir, new_email, "Confirm your email address")
    resent = d.http(alice, "POST", "/api/auth/verify-email/resend", 204)
    d.expect(resent, "user.verification_resend", "user", alice.user_id)
    newest = mails(d.stack.data_dir, new_email, "Confirm your email address", count=2)[-1]
    verified = d.http(
        alice,
        "POST",
        "/api/auth/verify-email",
        204,
        signed_in=False,
        json={"token": link_token(newest)},
    )
    d.expect(
        verified,
        "user.email_verify",
        "user",
        alice.user_id,
        changes=[("email_verified", False, True)],
    )


def verify_by_page(d: Driver, bob: Persona) -> None:
    """bob confirms his address on the page the sign-up mail links to."""
    mail = mails(d.stack.data_dir, bob.email, "Confirm your email address")[-1]
    verified = through_the_page(d, bob, mail, "/verify-email")
    d.expect(
        verified,
        "user.email_verify",
        "user",
        bob.user_id,
        changes=[("email_verified", False, True)],
    )


def sessions(d: Driver, alice: Persona, bob: Persona) -> None:
    """A refresh, then its old token replayed by a thief; a session revoked, first by a
    stranger (404), then by its owner; logout; logout everywhere; a last sign-in."""
    phone = device(d, alice, "phone")
    log_in(d, phone)
    replayable = phone.refresh_token
    refreshed = d.http(
        phone,
        "POST",
        "/api/auth/refresh",
        200,
        signed_in=False,
        headers=BODY_DELIVERY,
        json={"refreshToken": replayable},
    )
    keep_sign_in(phone, refreshed)
    d.expect(refreshed, "session.refresh", "user", alice.user_id, by_owner=True)
    thief = d.persona("thief")
    replayed = d.http(
        thief,
        "POST",
        "/api/auth/refresh",
        401,
        signed_in=False,
        json={"refreshToken": replayable},
    )
    d.expect(
        replayed,
        "session.refresh",
        "user",
        alice.user_id,
        outcome="denied",
        reason="authentication_required",
    )

    tablet = device(d, alice, "tablet")
    on_tablet = log_in(d, tablet)
    stolen = d.http(bob, "DELETE", f"/api/auth/sessions/{on_tablet}", 404)
    d.expect(
        stolen,
        "session.revoke",
        "session",
        on_tablet,
        outcome="denied",
        reason="concealed_session",
    )
    revoked = d.http(alice, "DELETE", f"/api/auth/sessions/{on_tablet}", 204)
    d.expect(revoked, "session.revoke", "session", on_tablet)

    logged_out = d.http(alice, "POST", "/api/auth/logout", 204)
    d.expect(logged_out, "user.logout", "session", claims(alice.token)["sid"])
    log_in(d, alice)
    everywhere = d.http(alice, "POST", "/api/auth/logout-all", 204)
    d.expect(everywhere, "user.logout_all", "user", alice.user_id)
    log_in(d, alice)


def through_the_page(d: Driver, who: Persona, mail: str, path: str, **form: str) -> httpx.Response:
    """Open the link a mail carries, as a browser does, and send the page's form."""
    page = d.http(who, "GET", path_and_query(link_in(mail, path)), 200, signed_in=False)
    fields = hidden_fields(page.text)
    d.secrets.add(fields["csrf"], f"the CSRF value of {path}")
    return d.http(who, "POST", path, 200, signed_in=False, data={**fields, **form})


def move_address(d: Driver, erin: Persona, moved: str) -> None:
    """Change the email and the password, proving the current one."""
    new_password = strong_password("erin-changed")
    change = {"email": moved, "password": new_password, "currentPassword": erin.password}
    changed = d.http(erin, "PUT", "/api/user", 200, json={"user": change})
    d.expect(
        changed,
        "user.update",
        "user",
        erin.user_id,
        changes=[("email", erin.email, moved), ("password", REDACTED, REDACTED)],
    )
    erin.password = new_password


def recovery(d: Driver, erin: Persona) -> None:
    """Twice an email and password change taken back through the link mailed to the old
    address (by the API, then on the link's page), which signs erin out everywhere; twice
    a forgotten password reset through the mailed link (the worker mails it), by the API,
    then on the page."""
    original, data_dir = erin.email, d.stack.data_dir
    restore_notice = "The email address of your account was changed"
    for times in (1, 2):
        moved = f"moved{times}-{original}"
        move_address(d, erin, moved)
        notice = mails(data_dir, original, restore_notice, count=times)[-1]
        password = strong_password("erin-restored")
        d.secrets.add(password, "erin's restored password")
        if times == 1:
            body = {"token": link_token(notice), "password": password}
            restored = d.http(
                erin, "POST", "/api/auth/restore-email", 204, signed_in=False, json=body
            )
        else:
            restored = through_the_page(
                d, erin, notice, "/restore-email", password=password, confirm=password
            )
        d.expect(
            restored,
            "user.email_restore",
            "user",
            erin.user_id,
            changes=[("email", moved, original), ("password", REDACTED, REDACTED)],
        )
        erin.password = password
        log_in(d, erin)

    for times in (1, 2):
        asked = d.http(
            erin, "POST", "/api/auth/password-reset", 202, signed_in=False, json={"email": original}
        )
        d.expect(asked, "user.password_reset_request", "user", None)
        link = mails(data_dir, original, "Reset your password", count=times)[-1]
        password = strong_password("erin-reset")
        d.secrets.add(password, "erin's reset password")
        if times == 1:
            body = {"token": link_token(link), "password": password}
            reset = d.http(
                erin, "POST", "/api/auth/password-reset/confirm", 204, signed_in=False, json=body
            )
        else:
            reset = through_the_page(
                d, erin, link, "/reset-password", password=password, confirm=password
            )
        d.expect(
            reset,
            "user.password_reset",
            "user",
            erin.user_id,
            changes=[("password", REDACTED, REDACTED)],
        )
        erin.password = password
    d.expect_worker("user.password_reset_issue", "user", erin.user_id, times=2)
    log_in(d, erin)


def roles_and_bans(d: Driver, admin: Persona, carol: Persona) -> None:
    """An operator promotes and bans carol from the CLI; her sign-in is refused while
    banned; an admin demotes, bans and unbans her over HTTP; she signs in again."""
    d.cli("users", "set-role", carol.name, "moderator")
    d.expect_cli(
        "users set-role",
        "user.role_change",
        "user",
        carol.user_id,
        changes=[("role", "user", "moderator")],
    )
    d.cli("users", "ban", carol.name)
    d.expect_cli("users ban", "user.ban", "user", carol.user_id, changes=[("banned", False, True)])
    body = {"user": {"email": carol.email, "password": carol.password}}
    banned = d.http(carol, "POST", LOGIN, 403, signed_in=False, json=body)
    d.expect(banned, "user.login", "user", carol.user_id, outcome="denied", reason="account_banned")
    d.cli("users", "unban", carol.name)
    d.expect_cli(
        "users unban", "user.unban", "user", carol.user_id, changes=[("banned", True, False)]
    )

    on_carol = f"/api/admin/users/{carol.name}"
    demoted = d.http(admin, "PUT", f"{on_carol}/role", 204, json={"role": "user"})
    d.expect(
        demoted,
        "user.role_change",
        "user",
        carol.user_id,
        changes=[("role", "moderator", "user")],
    )
    ban = d.http(admin, "POST", f"{on_carol}/ban", 204, json={"reason": "spam"})
    d.expect(ban, "user.ban", "user", carol.user_id, changes=[("banned", False, True)])
    unban = d.http(admin, "DELETE", f"{on_carol}/ban", 204)
    d.expect(unban, "user.unban", "user", carol.user_id, changes=[("banned", True, False)])
    log_in(d, carol)


def refusals_at_the_edge(d: Driver, bob: Persona) -> None:
    """Sign-ins from one address until its limit refuses one; a user on the admins' route."""
    mallory = d.persona("mallory")
    for attempt in range(AUTH_LIMIT):
        guess = {"email": f"nobody{attempt}-{uuid.uuid4().hex[:6]}@test.com"}
        body = {"user": {**guess, "password": strong_password("guess")}}
        failed = d.http(mallory, "POST", LOGIN, 401, signed_in=False, json=body)
        d.expect(failed, "user.login", "user", None, outcome="denied", reason="invalid_credentials")
    body = {
        "user": {
            "email": f"nobody-{uuid.uuid4().hex[:6]}@test.com",
            "password": strong_password("guess"),
        }
    }
    blocked = d.http(mallory, "POST", LOGIN, 429, signed_in=False, json=body)
    d.expect(blocked, "user.login", "user", None, outcome="denied", reason="rate_limited")

    nosy = d.http(bob, "GET", ADMIN_AUDIT, 403)
    d.expect(
        nosy,
        "route.access",
        "route",
        f"GET {ADMIN_AUDIT}",
        outcome="denied",
        reason="missing_permission:audit:read",
    )


def link_tokens_mailed(data_dir: Path) -> list[tuple[str, str]]:
    """The token of every link in every mail the server sent, with the mail's subject."""
    found = []
    for path in (data_dir / "mail").glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        where = f"the link in {message['Subject']!r}"
        found += [(part.split()[0], where) for part in str(body.get_content()).split("?token=")[1:]]
    return found
