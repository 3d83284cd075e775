"""Where notification emails' links land: an article, a profile, the account's settings.

With LINKS_FRONTEND_URL set, each redirects (302) to that frontend's page, built from its
LINKS_*_PATH pattern, so links mailed before the frontend was configured still arrive
there. Without one, a page says where the content is: Portico serves no pages for reading,
only the API that apps read from.
"""

from typing import Any
from urllib.parse import quote

from litestar import MediaType, Request, Response, get
from litestar.status_codes import HTTP_200_OK, HTTP_302_FOUND

from entrypoints.http.pages.state import Pages, pages_of
from entrypoints.http.pages.tokens import PAGE_OPT


def _frontend(pages: Pages, pattern: str, placeholder: str, value: str) -> Response[str] | None:
    """A redirect to the frontend's page, when there is a frontend."""
    base = pages.links.frontend_url
    if base is None:
        return None
    path = pattern.replace(placeholder, quote(value, safe="")) if placeholder else pattern
    return Response(
        content="",
        status_code=HTTP_302_FOUND,
        media_type=MediaType.HTML,
        headers={"Location": f"{base.rstrip('/')}{path}", "Cache-Control": "no-store"},
    )


def _landing(pages: Pages, title: str, api_route: str, *paragraphs: str) -> Response[str]:
    return pages.render(
        "landing.html",
        status=HTTP_200_OK,
        title=title,
        paragraphs=(
            *paragraphs,
            (
                f"This {pages.app_name} server has no web pages for it: open it in an app "
                "connected to this server, such as a RealWorld (Conduit) frontend."
            ),
        ),
        api_route=api_route,
    )


@get("/article/{slug:str}", media_type=MediaType.HTML, opt=PAGE_OPT, cache=False)
async def article_landing(request: Request[Any, Any, Any], slug: str) -> Response[str]:
    """An article a notification is about."""
    pages = pages_of(request)
    redirect = _frontend(pages, pages.links.article_path, "{slug}", slug)
    return redirect or _landing(
        pages,
        "An article",
        f"GET /api/articles/{quote(slug, safe='')}",
        f"The link leads to the article “{slug}”.",
    )


@get("/profile/{username:str}", media_type=MediaType.HTML, opt=PAGE_OPT, cache=False)
async def profile_landing(request: Request[Any, Any, Any], username: str) -> Response[str]:
    """A user a notification is about (a new follower, say)."""
    pages = pages_of(request)
    redirect = _frontend(pages, pages.links.profile_path, "{username}", username)
    return redirect or _landing(
        pages,
        "A profile",
        f"GET /api/profiles/{quote(username, safe='')}",
        f"The link leads to the profile of {username}.",
    )


@get("/settings", media_type=MediaType.HTML, opt=PAGE_OPT, cache=False)
async def settings_landing(request: Request[Any, Any, Any]) -> Response[str]:
    """The account's settings, where notification preferences are changed."""
    pages = pages_of(request)
    redirect = _frontend(pages, pages.links.settings_path, "", "")
    return redirect or _landing(
        pages,
        "Your settings",
        "GET and PUT /api/notifications/preferences",
        "The link leads to your account's settings, where you choose what you are told "
        "of, and how: in the app, by email, by text message or by push notification.",
    )
