"""Which values each notification template gets, and which files make up its templates.

Every notification template is rendered with the `COMMON_KEYS` plus the keys its kind
adds in `TEMPLATE_CONTEXT`; all values are strings. A template may leave a value unused,
but must not use one that is not listed here: rendering is strict, so an unknown name
fails instead of sending a message with a blank in it.

For a kind such as `new_follower` the templates are, relative to the templates root:

- email: `email/notification_new_follower.subject.txt`, `.txt` and `.html`
  (render with `render_email(email_template(kind), ...)`);
- SMS: `sms/new_follower.txt` (`render_text(sms_template(kind), ...)`);
- push: `push/new_follower.title.txt` and `push/new_follower.body.txt`
  (`render_text(push_title_template(kind), ...)`, `render_text(push_body_template(kind), ...)`).
"""

from collections.abc import Mapping
from types import MappingProxyType

from domain.notifications.notification import NotificationKind

COMMON_KEYS: tuple[str, ...] = ("app_name", "recipient_username", "url", "preferences_url")
"""Given to every notification template: the product's name, the recipient's username, a
link to the thing the notification is about, and a link to the notification preferences."""

_ARTICLE_KEYS = ("actor_username", "article_title", "article_slug")

TEMPLATE_CONTEXT: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        NotificationKind.NEW_FOLLOWER.value: ("actor_username",),
        NotificationKind.NEW_ARTICLE.value: _ARTICLE_KEYS,
        NotificationKind.NEW_COMMENT.value: _ARTICLE_KEYS,
        NotificationKind.ARTICLE_FAVORITED.value: _ARTICLE_KEYS,
        NotificationKind.NEW_LOGIN.value: ("device", "ip_address", "signed_in_at"),
        NotificationKind.PASSWORD_CHANGED.value: ("changed_at",),
    }
)
"""Kind value -> the keys its templates get beyond `COMMON_KEYS`."""


def context_keys(kind: str) -> tuple[str, ...]:
    """Every key the templates of `kind` are rendered with: the common ones, then its own."""
    return COMMON_KEYS + TEMPLATE_CONTEXT[kind]


def email_template(kind: str) -> str:
    """The name to pass to `render_email` for `kind`."""
    return f"notification_{kind}"


def sms_template(kind: str) -> str:
    """The name to pass to `render_text` for the SMS of `kind`."""
    return f"sms/{kind}"


def push_title_template(kind: str) -> str:
    """The name to pass to `render_text` for the title of a push of `kind`."""
    return f"push/{kind}.title"


def push_body_template(kind: str) -> str:
    """The name to pass to `render_text` for the body of a push of `kind`."""
    return f"push/{kind}.body"


def template_files(kind: str) -> tuple[str, ...]:
    """The files, relative to the templates root, that `kind` needs on every channel."""
    email = f"email/{email_template(kind)}"
    return (
        f"{email}.subject.txt",
        f"{email}.txt",
        f"{email}.html",
        f"{sms_template(kind)}.txt",
        f"{push_title_template(kind)}.txt",
        f"{push_body_template(kind)}.txt",
    )
