"""Errors of the articles context's use cases; each is keyed by the resource it is about."""

from application.common.errors import ConflictError, NotFoundError, PermissionDeniedError

FORBIDDEN = "forbidden"


class ArticleNotFoundError(NotFoundError):
    """No article has this slug."""

    field = "article"

    def __init__(self) -> None:
        super().__init__("not found")


class CommentNotFoundError(NotFoundError):
    """The article has no comment with this id."""

    field = "comment"

    def __init__(self) -> None:
        super().__init__("not found")


class NotArticleAuthorError(PermissionDeniedError):
    """Only the author may change or delete the article."""

    field = "article"

    def __init__(self) -> None:
        super().__init__(FORBIDDEN)


class CommentDeletionForbiddenError(PermissionDeniedError):
    """Only the comment's author, or a moderator, may delete it."""

    field = "comment"

    def __init__(self) -> None:
        super().__init__(FORBIDDEN)


class SlugTakenError(ConflictError):
    """Another article already has this slug."""

    field = "slug"

    def __init__(self) -> None:
        super().__init__("has already been taken")
