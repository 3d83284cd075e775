"""What the pages need from the settings, built once with the app and kept in its state."""

from dataclasses import dataclass
from typing import Any

from litestar import Request, Response
from litestar.datastructures import Cookie

from entrypoints.config.settings import Settings
from entrypoints.config.settings.process import LinksSettings
from entrypoints.http.pages.form_guard import FormGuard
from entrypoints.http.pages.rendering import render_page

_STATE_KEY = "pages"


@dataclass(frozen=True, slots=True, kw_only=True)
class Pages:
    """The service's name as the pages show it, the forms' guard, and where links lead."""

    app_name: str
    guard: FormGuard
    links: LinksSettings

    @classmethod
    def from_settings(cls, settings: Settings) -> "Pages":
        """From the settings; JWT_SECRET keys the forms' guard, as it keys other tokens."""
        return cls(
            app_name=settings.app.name,
            guard=FormGuard(
                secret=settings.auth.jwt_secret,
                secure=settings.app.public_url.startswith("https://"),
            ),
            links=settings.links,
        )

    def install(self, state: Any) -> None:
        """Keep this in the app's state, where the pages' handlers find it."""
        state[_STATE_KEY] = self

    def render(
        self,
        template: str,
        *,
        status: int,
        headers: dict[str, str] | None = None,
        cookies: list[Cookie] | None = None,
        **context: Any,
    ) -> Response[str]:
        """A page under this service's name."""
        return render_page(
            template,
            status=status,
            app_name=self.app_name,
            headers=headers,
            cookies=cookies,
            **context,
        )

    def message(self, status: int, title: str, *paragraphs: str, **context: Any) -> Response[str]:
        """A page that only tells something: a result, or what went wrong."""
        return self.render(
            "message.html",
            status=status,
            title=title,
            paragraphs=paragraphs,
            code=context.pop("code", None),
            reference=context.pop("reference", None),
            **context,
        )


def pages_of(request: Request[Any, Any, Any]) -> Pages:
    """The pages' settings, which `create_app` installed."""
    pages = request.app.state.get(_STATE_KEY)
    if not isinstance(pages, Pages):
        raise TypeError("the pages were mounted without Pages.install")
    return pages
