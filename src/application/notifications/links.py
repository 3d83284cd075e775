"""Where notifications point: links into the web app that clients open."""

from collections.abc import Mapping
from dataclasses import dataclass

from domain.notifications.notification import Subject
from domain.users.values import Username


@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationLinks:
    """Builds the links templates show, from the web app's public URL.

    The paths are the RealWorld front end's: ``/article/<slug>``, ``/profile/<username>``
    and ``/settings``.
    """

    public_url: str
    app_name: str

    def for_subject(self, subject: Subject, data: Mapping[str, str]) -> str:
        """The page about the notification's subject."""
        base = self.public_url.rstrip("/")
        if subject.type == "article" and data.get("article_slug"):
            return f"{base}/article/{data['article_slug']}"
        if subject.type == "user" and Username.could_exist(data.get("actor_username", "")):
            return f"{base}/profile/{data['actor_username']}"
        return f"{base}/settings"

    @property
    def preferences(self) -> str:
        """Where the user changes what they are told, and how."""
        return f"{self.public_url.rstrip('/')}/settings"
