"""Errors take their message and field from class defaults, which arguments override."""

import pytest

from application.articles.errors import ArticleNotFoundError
from application.common.errors import NotFoundError
from domain.shared.errors import DomainError
from domain.users.session import SessionRevokedError


def test_a_leaf_says_its_default_message_about_its_default_field() -> None:
    error = ArticleNotFoundError()
    assert (error.field, error.message, str(error)) == ("article", "not found", "not found")
    revoked = SessionRevokedError()
    assert (revoked.field, revoked.message, revoked.args) == (
        "token",
        "is invalid",
        ("is invalid",),
    )


def test_arguments_override_the_defaults() -> None:
    error = ArticleNotFoundError("gone", field="slug")
    assert (error.field, error.message, str(error)) == ("slug", "gone", "gone")
    assert ArticleNotFoundError.message == "not found"
    assert ArticleNotFoundError.field == "article"


@pytest.mark.parametrize("error_type", [NotFoundError, DomainError])
def test_an_error_without_a_default_message_needs_one(error_type: type[Exception]) -> None:
    with pytest.raises(TypeError, match="no default message"):
        error_type()
    assert str(error_type("is blank")) == "is blank"
