"""Where notifications point: links into the web app that clients open."""

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from domain.notifications.notification import Subject
from domain.users.values import Username


@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationLinks:
    """Builds the links templates show, from the web app's public URL.

    The paths are the RealWorld front end's by default: ``/article/<slug>``,
    ``/profile/<username>`` and ``/settings``, which the service's own pages answer too; a
    web frontend may name others, with ``{slug}`` and ``{username}`` replaced
    (percent-encoded).
    """

    public_url: str
    app_name: str
    article_path: str = "/article/{slug}"
    profile_path: str = "/profile/{username}"
    settings_path: str = "/settings"

    def for_subject(self, subject: Subject, data: Mapping[str, str]) -> str:
        """The page about the notification's subject."""
        base = self.public_url.rstrip("/")
        if subject.type == "article" and data.get("article_slug"):
            slug = quote(data["article_slug"], safe="")
            return f"{base}{self.article_path.replace('{slug}', slug)}"
        if subject.type == "user" and Username.could_exist(data.get("actor_username", "")):
            username = quote(data["actor_username"], safe="")
            return f"{base}{self.profile_path.replace('{username}', username)}"
        return self.preferences

    @property
    def preferences(self) -> str:
        """Where the user changes what they are told, and how."""
        return f"{self.public_url.rstrip('/')}{self.settings_path}"
