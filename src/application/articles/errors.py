"""Errors of the articles context's use cases; each is keyed by the resource it is about."""

from application.common.errors import ConflictError, NotFoundError, PermissionDeniedError

FORBIDDEN = "forbidden"


class ArticleNotFoundError(NotFoundError):
    """No article has this slug."""

    field = "article"
    message = "not found"


class CommentNotFoundError(NotFoundError):
    """The article has no comment with this id."""

    field = "comment"
    message = "not found"


class NotArticleAuthorError(PermissionDeniedError):
    """Only the author may change or delete the article."""

    field = "article"
    message = FORBIDDEN


class CommentDeletionForbiddenError(PermissionDeniedError):
    """Only the comment's author, or a moderator, may delete it."""

    field = "comment"
    message = FORBIDDEN


class SlugTakenError(ConflictError):
    """Another article already has this slug."""

    field = "slug"
    message = "has already been taken"
