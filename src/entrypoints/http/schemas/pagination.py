"""The `limit` and `offset` query parameters, bounded where `PageRequest` checks them."""

from typing import Annotated

from litestar.params import Parameter

from application.articles.pagination import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET

_LEAST = 0
_STATED_LEAST = {"minimum": _LEAST}
"""Litestar leaves a bound of 0 out of the document (it skips falsy values), so it is restated."""

PageLimit = Annotated[
    int | None,
    Parameter(
        ge=_LEAST,
        le=MAX_LIMIT,
        schema_extra=_STATED_LEAST,
        description=f"Page size, 0 to {MAX_LIMIT} (default {DEFAULT_LIMIT}).",
    ),
]
CommentPageLimit = Annotated[
    int | None,
    Parameter(
        ge=_LEAST,
        le=MAX_LIMIT,
        schema_extra=_STATED_LEAST,
        description=f"Page size, 0 to {MAX_LIMIT} (default {MAX_LIMIT}).",
    ),
]
PageOffset = Annotated[
    int | None,
    Parameter(
        ge=_LEAST,
        le=MAX_OFFSET,
        schema_extra=_STATED_LEAST,
        description=f"Items to skip, 0 to {MAX_OFFSET} (default 0).",
    ),
]
