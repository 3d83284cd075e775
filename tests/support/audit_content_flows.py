"""The scenario's content flows: articles, comments, favorites, follows, files,
notifications, the phone number and push subscriptions.

Each flow acts through the API as a person would, and notes on the `Driver` the audit
entries it must leave.
"""

import hashlib
import secrets
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.audit_scenario import Driver, Persona, texted_code
from tests.support.files import png
from tests.support.notifications_protocol import browser_keys


def publish_and_edit(d: Driver, alice: Persona, bob: Persona) -> str:
    """alice publishes and edits; bob's edit is refused (403). The article's slug."""
    title = f"Audit trail {uuid.uuid4().hex[:8]}"
    article = {"title": title, "description": "Who did what", "body": "First draft."}
    published = d.http(alice, "POST", "/api/articles", 201, json={"article": article})
    slug = str(published.json()["article"]["slug"])
    d.expect(published, "article.publish", "article", slug)
    revised = f"{title} (revised)"
    edit = {"title": revised, "body": "Second draft."}
    edited = d.http(alice, "PUT", f"/api/articles/{slug}", 200, json={"article": edit})
    d.expect(
        edited,
        "article.update",
        "article",
        slug,
        changes=[("title", title, revised), ("body", "First draft.", "Second draft.")],
    )
    defaced = d.http(bob, "PUT", f"/api/articles/{slug}", 403, json={"article": {"title": "Mine"}})
    d.expect(
        defaced, "article.update", "article", slug, outcome="denied", reason="not_article_author"
    )
    return slug


def reactions(d: Driver, alice: Persona, bob: Persona, slug: str) -> None:
    """bob follows alice, favorites her article, comments on it; and takes each back."""
    profile = f"/api/profiles/{alice.name}/follow"
    followed = d.http(bob, "POST", profile, 200)
    d.expect(followed, "user.follow", "user", alice.user_id)
    favorite = f"/api/articles/{slug}/favorite"
    favorited = d.http(bob, "POST", favorite, 200)
    d.expect(favorited, "article.favorite", "article", slug)
    unfavorited = d.http(bob, "DELETE", favorite, 200)
    d.expect(unfavorited, "article.unfavorite", "article", slug)
    comments = f"/api/articles/{slug}/comments"
    added = d.http(bob, "POST", comments, 201, json={"comment": {"body": "Who signed this?"}})
    comment_id = str(added.json()["comment"]["id"])
    d.expect(added, "comment.add", "comment", comment_id)
    removed = d.http(bob, "DELETE", f"{comments}/{comment_id}", 204)
    d.expect(removed, "comment.delete", "comment", comment_id)
    unfollowed = d.http(bob, "DELETE", profile, 200)
    d.expect(unfollowed, "user.unfollow", "user", alice.user_id)


def upload(d: Driver, owner: Persona, data: bytes, purpose: str, content_type: str) -> str:
    """A raw upload that must succeed; the file's id."""
    uploaded = d.http(
        owner,
        "POST",
        "/api/files",
        201,
        params={"purpose": purpose, "name": f"{purpose}.bin"},
        content=data,
        headers={"Content-Type": content_type},
    )
    file_id = str(uploaded.json()["file"]["id"])
    d.expect(uploaded, "file.upload", "file", file_id)
    return file_id


def files(d: Driver, alice: Persona, bob: Persona, slug: str) -> None:
    """A private file bob probes for (404); a direct upload, completed, then deleted; an
    avatar; an image for the article."""
    private = upload(d, alice, b"private notes\n" * 40, "attachment", "text/plain")
    probed = d.http(bob, "GET", f"/api/files/{private}", 404)
    d.expect(probed, "file.read", "file", private, outcome="denied", reason="concealed_file")

    data = b"direct bytes\n" * 80
    announced = {
        "purpose": "attachment",
        "name": "direct.txt",
        "size": len(data),
        "contentType": "text/plain",
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    started = d.http(alice, "POST", "/api/files/uploads", 201, json={"upload": announced})
    file_id, request = str(started.json()["file"]["id"]), started.json()["upload"]
    d.expect(started, "file.upload_start", "file", file_id)
    (signature,) = parse_qs(urlsplit(request["url"]).query)["signature"]
    d.secrets.add(signature, "the direct upload URL's signature")
    received = d.http(
        alice, "PUT", request["url"], 204, signed_in=False, headers=request["headers"], content=data
    )
    d.expect(received, "file.upload_receive", "file", file_id)
    completed = d.http(alice, "POST", f"/api/files/{file_id}/complete", 200)
    d.expect(completed, "file.upload_complete", "file", file_id)
    deleted = d.http(alice, "DELETE", f"/api/files/{file_id}", 204)
    d.expect(deleted, "file.delete", "file", file_id, changes=[("status", "ready", "deleted")])

    avatar = upload(d, alice, png(), "avatar", "image/png")
    chosen = d.http(alice, "PUT", "/api/user/avatar", 200, json={"avatar": {"fileId": avatar}})
    image_url = chosen.json()["user"]["image"]
    d.expect(chosen, "user.avatar_set", "user", alice.user_id, changes=[("image", None, image_url)])
    image = upload(d, alice, png((48, 36)), "article_image", "image/png")
    attached = d.http(alice, "PUT", f"/api/articles/{slug}/images", 200, json={"images": [image]})
    d.expect(attached, "article.images_attach", "article", slug)


def notifications(d: Driver, alice: Persona) -> None:
    """alice changes a preference, reads the notification bob's follow gave her, then all."""
    switches = {"preferences": {"article_favorited": {"email": False}}}
    changed = d.http(alice, "PUT", "/api/notifications/preferences", 200, json=switches)
    d.expect(changed, "notification.preferences_update", "notification_preferences", alice.user_id)
    deadline = time.monotonic() + 20
    items: list[dict[str, Any]] = []
    while not items:
        assert time.monotonic() < deadline, "bob's follow never reached alice's notifications"
        time.sleep(0.1)
        listed = d.http(alice, "GET", "/api/notifications", 200)
        items = [n for n in listed.json()["notifications"] if n["kind"] == "new_follower"]
    notification_id = str(items[0]["id"])
    read = d.http(alice, "POST", f"/api/notifications/{notification_id}/read", 200)
    d.expect(read, "notification.mark_read", "notification", notification_id)
    read_all = d.http(alice, "POST", "/api/notifications/read-all", 200)
    d.expect(read_all, "notification.mark_all_read", "notification", None)


def phone_and_push(d: Driver, alice: Persona) -> None:
    """A phone number proven by the texted code after a wrong guess, then removed; a push
    subscription made and dropped."""
    number = f"+1415{secrets.randbelow(10_000_000):07d}"
    given = d.http(alice, "PUT", "/api/user/phone", 200, json={"phone": number})
    d.expect(given, "phone.set", "phone", alice.user_id)
    deadline = time.monotonic() + 20
    while not (texts := d.stack.sms.sent_to(number)):
        assert time.monotonic() < deadline, f"no code was texted to {number}"
        time.sleep(0.05)
    code = texted_code(texts[-1].form["Body"])
    d.secrets.add(code, "the texted phone code")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    verify = "/api/user/phone/verify"
    guessed = d.http(alice, "POST", verify, 422, json={"code": wrong})
    d.expect(guessed, "phone.verify", "phone", alice.user_id, outcome="denied", reason="phone_code")
    verified = d.http(alice, "POST", verify, 200, json={"code": code})
    d.expect(verified, "phone.verify", "phone", alice.user_id)
    removed = d.http(alice, "DELETE", "/api/user/phone", 204)
    d.expect(removed, "phone.remove", "phone", alice.user_id)

    endpoint = f"https://push.example.com/send/{uuid.uuid4().hex}"
    keys = browser_keys()
    for name, value in (("endpoint", endpoint), *keys.items()):
        d.secrets.add(value, f"the push subscription's {name}")
    subscription = {"endpoint": endpoint, "keys": keys}
    subscribed = d.http(alice, "POST", "/api/push/subscriptions", 201, json=subscription)
    d.expect(subscribed, "push.subscribe", "user", alice.user_id)
    dropped = d.http(alice, "DELETE", "/api/push/subscriptions", 204, json={"endpoint": endpoint})
    d.expect(dropped, "push.unsubscribe", "user", alice.user_id)


def delete_article(d: Driver, alice: Persona, slug: str) -> None:
    """alice deletes her article; the worker removes its images once the deletion is relayed."""
    deleted = d.http(alice, "DELETE", f"/api/articles/{slug}", 204)
    d.expect(deleted, "article.delete", "article", slug)
    d.expect_worker("article.images_delete", "article", slug)
