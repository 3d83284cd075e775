"""The SQL read side costs a constant number of statements, whatever the page size."""

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.sqlalchemy.article_reader import SqlArticleReader, SqlCommentReader
from adapters.sqlalchemy.articles import SqlArticleRepository, SqlCommentRepository
from adapters.sqlalchemy.users import SqlUserRepository
from application.articles.ports import ArticleQuery
from domain.articles.article import Article
from domain.articles.comment import Comment
from domain.articles.values import ArticleId, Body, CommentBody, Description, Slug, TagList, Title
from domain.users.user import User
from domain.users.values import Email, UserId, Username
from tests.support.postgres import truncate_all

pytestmark = pytest.mark.integration

NOW = datetime(2026, 5, 1, tzinfo=UTC)
ARTICLES = 120
READER = UserId(UUID(int=1))
AUTHOR = UserId(UUID(int=2))


@pytest.fixture(scope="module")
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One populated database for the module's read-only tests, emptied before and after."""
    await truncate_all(engine)
    async with engine.connect() as connection:
        await connection.begin()
        users = SqlUserRepository(connection)
        for user_id, name in ((READER, "reader"), (AUTHOR, "author")):
            await users.add(
                User.register(
                    id=user_id,
                    username=Username(name),
                    email=Email.parse(f"{name}@test.com"),
                    password_hash="hash",
                    now=NOW,
                )
            )
        await users.add_follow(READER, AUTHOR, at=NOW)
        articles, comments = SqlArticleRepository(connection), SqlCommentRepository(connection)
        for number in range(ARTICLES):
            article = Article.publish(
                id=ArticleId(UUID(int=1000 + number)),
                author_id=AUTHOR if number % 2 else READER,
                slug=Slug(f"article-{number}"),
                title=Title(f"Article {number}"),
                description=Description("About it"),
                body=Body("Body"),
                tags=TagList.parse(["common", f"tag-{number % 7}", f"other-{number % 3}"]),
                now=NOW + timedelta(minutes=number),
            )
            await articles.add(article)
            await articles.add_favorite(READER, article.id, at=NOW)
            await articles.add_favorite(AUTHOR, article.id, at=NOW)
            if number == 1:
                for _ in range(101):
                    await comments.add(
                        Comment.post(
                            id=await comments.next_id(),
                            article=article,
                            author_id=AUTHOR,
                            body=CommentBody("Nice"),
                            now=NOW,
                        )
                    )
        await connection.commit()
        yield connection
    await truncate_all(engine)


@contextmanager
def counted(connection: AsyncConnection) -> Iterator[list[str]]:
    """Collect every statement the connection's engine sends while the block runs."""
    statements: list[str] = []

    def record(*arguments: Any) -> None:
        statements.append(arguments[2])

    engine = connection.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


QUERIES = {
    "global": {},
    "tag": {"tag": "common"},
    "author": {"author": "author"},
    "favorited": {"favorited": "reader"},
    "feed": {"followed_by": READER},
    "everything": {"tag": "common", "author": "author", "favorited": "reader"},
}


@pytest.mark.parametrize("limit", [1, 100])
@pytest.mark.parametrize("viewer", [None, READER], ids=["anonymous", "signed-in"])
@pytest.mark.parametrize("filters", QUERIES.values(), ids=QUERIES.keys())
async def test_a_page_is_one_statement(
    connection: AsyncConnection, limit: int, viewer: UserId | None, filters: dict[str, Any]
) -> None:
    reader = SqlArticleReader(connection)
    with counted(connection) as statements:
        page = await reader.page(ArticleQuery(limit=limit, offset=0, **filters), viewer=viewer)
    assert len(statements) == 1, statements
    assert len(page.articles) == min(limit, page.total)
    assert page.total >= len(page.articles) > 0
    assert all(len(article.tags) == 3 for article in page.articles)
    assert all(article.favorites_count == 2 for article in page.articles)
    assert all(article.favorited is (viewer is not None) for article in page.articles)


@pytest.mark.parametrize(("limit", "offset"), [(20, 1000), (0, 0)])
async def test_an_empty_page_is_one_statement_too_and_still_counts_every_match(
    connection: AsyncConnection, limit: int, offset: int
) -> None:
    reader = SqlArticleReader(connection)
    with counted(connection) as statements:
        page = await reader.page(ArticleQuery(limit=limit, offset=offset), viewer=READER)
    assert len(statements) == 1, statements
    assert (list(page.articles), page.total) == ([], ARTICLES)


async def test_one_article_and_the_tags_are_one_statement_each(
    connection: AsyncConnection,
) -> None:
    reader = SqlArticleReader(connection)
    with counted(connection) as statements:
        article = await reader.by_slug("article-7", viewer=READER)
        tags = await reader.tags()
    assert len(statements) == 2, statements
    assert article is not None
    assert article.author.following is True
    assert tags[0] == "common"


@pytest.mark.parametrize("limit", [1, 100])
async def test_a_page_of_comments_is_one_statement(connection: AsyncConnection, limit: int) -> None:
    reader = SqlCommentReader(connection)
    with counted(connection) as statements:
        comments = await reader.for_article("article-1", viewer=READER, limit=limit, offset=0)
    assert len(statements) == 1, statements
    assert comments is not None
    assert len(comments) == limit
    assert all(comment.author.following for comment in comments)


async def test_the_next_page_starts_where_the_first_ended(connection: AsyncConnection) -> None:
    reader = SqlArticleReader(connection)
    first = await reader.page(ArticleQuery(limit=10, offset=0), viewer=None)
    second = await reader.page(ArticleQuery(limit=10, offset=10), viewer=None)
    both = await reader.page(ArticleQuery(limit=20, offset=0), viewer=None)
    assert [a.slug for a in both.articles] == [a.slug for a in (*first.articles, *second.articles)]
    comments = SqlCommentReader(connection)
    first_comments = await comments.for_article("article-1", viewer=None, limit=5, offset=0)
    next_comments = await comments.for_article("article-1", viewer=None, limit=5, offset=5)
    assert first_comments is not None
    assert next_comments is not None
    assert {c.id for c in first_comments}.isdisjoint(c.id for c in next_comments)


async def test_the_first_page_reuses_its_plan_instead_of_planning_every_time(
    connection: AsyncConnection,
) -> None:
    reader = SqlArticleReader(connection)
    for _ in range(15):
        await reader.page(ArticleQuery(limit=1, offset=0), viewer=READER)
    result = await connection.execute(
        sa.text(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE strpos(statement, :page) > 0"
        ),
        {"page": "LIMIT 1)"},
    )
    plans = result.all()
    assert len(plans) == 1, plans
    generic, _custom = plans[0]
    assert generic > 0, plans
