"""Racing transactions on PostgreSQL: locking reads hold, and lost races become app errors.

Two connections stand for two requests; each step of the interleaving is forced, so each
test shows one race every time rather than now and then.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.memory.system import SequentialIdGenerator
from adapters.sqlalchemy.articles import SqlArticleRepository, SqlCommentRepository
from adapters.sqlalchemy.errors import WriteConflictError, sqlstate
from adapters.sqlalchemy.notifications.preferences import SqlNotificationPreferencesRepository
from adapters.sqlalchemy.sessions import SqlSessionRepository
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from adapters.sqlalchemy.users import SqlUserRepository
from application.articles.errors import ArticleNotFoundError
from domain.articles.article import Article
from domain.articles.comment import Comment
from domain.articles.values import ArticleId, Body, CommentBody, Description, Slug, TagList, Title
from domain.users.session import Session
from domain.users.user import User
from domain.users.values import Email, Profile, UserId, Username
from tests.support.postgres import engine_for_tests, truncate_all

pytestmark = pytest.mark.integration

NOW = datetime(2026, 8, 1, tzinfo=UTC)
LOCK_NOT_AVAILABLE = "55P03"
ALICE, BOB = UserId(UUID(int=1)), UserId(UUID(int=2))
ARTICLE = ArticleId(UUID(int=10))
SESSION = UUID(int=20)


@dataclass
class Race:
    engine: AsyncEngine

    def uow(self, connection: AsyncConnection) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(connection, SequentialIdGenerator())


@pytest.fixture
async def race(migrated_url: str) -> AsyncIterator[Race]:
    engine = engine_for_tests(migrated_url, autocommit=True)
    try:
        async with engine.connect() as connection:
            uow = SqlAlchemyUnitOfWork(connection, SequentialIdGenerator())
            async with uow:
                users = SqlUserRepository(connection)
                for user_id, name in ((ALICE, "alice"), (BOB, "bob")):
                    await users.add(
                        User.register(
                            id=user_id,
                            username=Username(name),
                            email=Email.parse(f"{name}@test.com"),
                            password_hash="x",
                            now=NOW,
                        )
                    )
                await SqlArticleRepository(connection).add(
                    Article.publish(
                        id=ARTICLE,
                        author_id=ALICE,
                        slug=Slug("raced"),
                        title=Title("Raced"),
                        description=Description("d"),
                        body=Body("b"),
                        tags=TagList.parse(["one"]),
                        now=NOW,
                    )
                )
                await SqlSessionRepository(connection).add(
                    Session.open(
                        id=SESSION,
                        user_id=ALICE,
                        token_hash="h",
                        now=NOW,
                        ttl=timedelta(days=1),
                        device="d",
                        ip="127.0.0.1",
                    )
                )
                await uow.commit()
        yield Race(engine)
    finally:
        await truncate_all(engine)
        await engine.dispose()


LockingRead = Callable[[AsyncConnection], Awaitable[object]]

LOCKING_READS: dict[str, LockingRead] = {
    "article by slug": lambda c: SqlArticleRepository(c).get_by_slug("raced", for_update=True),
    "user by id": lambda c: SqlUserRepository(c).get(ALICE, for_update=True),
    "user by username": lambda c: SqlUserRepository(c).get_by_username("alice", for_update=True),
    "session by id": lambda c: SqlSessionRepository(c).get(SESSION, for_update=True),
    "preferences never chosen": lambda c: SqlNotificationPreferencesRepository(c).get(
        ALICE, for_update=True
    ),
}


@pytest.mark.parametrize("name", LOCKING_READS)
async def test_a_locking_read_holds_its_row_until_the_transaction_ends(
    race: Race, name: str
) -> None:
    read = LOCKING_READS[name]
    async with race.engine.connect() as first, race.engine.connect() as second:
        await second.execute(sa.text("SET lock_timeout = '200ms'"))
        async with race.uow(first) as uow:
            await read(first)
            with pytest.raises(Exception) as refused:  # noqa: PT011 - checked by SQLSTATE
                async with race.uow(second):
                    await read(second)
            assert sqlstate(refused.value) == LOCK_NOT_AVAILABLE
            await uow.commit()
        async with race.uow(second):
            await read(second)


async def test_an_article_read_that_waited_for_a_lock_sees_the_edit_and_its_tags(
    race: Race,
) -> None:
    async with race.engine.connect() as first, race.engine.connect() as second:
        async with race.uow(first) as editing:
            articles = SqlArticleRepository(first)
            article = await articles.get_by_slug("raced", for_update=True)
            assert article is not None
            article.edit(now=NOW, title=Title("Edited"), tags=TagList.parse(["two", "three"]))
            await articles.save(article)
            waiting = asyncio.create_task(
                SqlArticleRepository(second).get_by_slug("raced", for_update=True)
            )
            await asyncio.sleep(0.2)
            assert not waiting.done()
            await editing.commit()
        async with race.uow(second):
            seen = await waiting
    assert seen is not None
    assert (str(seen.title), seen.tags.names) == ("Edited", ("two", "three"))


async def test_a_comment_on_an_article_deleted_meanwhile_is_article_not_found(
    race: Race,
) -> None:
    async with race.engine.connect() as commenter, race.engine.connect() as deleter:
        uow = race.uow(commenter)
        comments = SqlCommentRepository(commenter)

        async def comment_after_the_delete() -> None:
            async with uow:
                article = await SqlArticleRepository(commenter).get_by_slug("raced")
                assert article is not None
                async with race.uow(deleter) as deleting:
                    assert await SqlArticleRepository(deleter).remove(ARTICLE)
                    await deleting.commit()
                comment = Comment.post(
                    id=await comments.next_id(),
                    article=article,
                    author_id=BOB,
                    body=CommentBody("too late"),
                    now=NOW,
                )
                await comments.add(comment)
                await uow.commit()

        with pytest.raises(ArticleNotFoundError):
            await comment_after_the_delete()
        assert not commenter.in_transaction()


async def test_of_two_racing_deletes_only_one_removes_the_article(race: Race) -> None:
    async with (
        race.engine.connect() as first,
        race.engine.connect() as second,
        race.uow(first) as one,
    ):
        assert await SqlArticleRepository(first).remove(ARTICLE)
        async with race.uow(second) as other:
            losing = asyncio.create_task(SqlArticleRepository(second).remove(ARTICLE))
            await asyncio.sleep(0.2)
            assert not losing.done()
            await one.commit()
            assert await losing is False
            await other.commit()


async def test_a_deadlock_is_a_write_conflict_and_saves_nothing(race: Race) -> None:
    both_hold_one = asyncio.Barrier(2)

    async def lock_in_order(first: UserId, then: UserId, bio: str) -> None:
        async with race.engine.connect() as connection, race.uow(connection) as uow:
            users = SqlUserRepository(connection)
            user = await users.get(first, for_update=True)
            assert user is not None
            user.update(now=NOW, profile=Profile.of(bio=bio, image=None))
            await users.save(user)
            await both_hold_one.wait()
            await users.get(then, for_update=True)
            await uow.commit()

    outcomes = await asyncio.gather(
        lock_in_order(ALICE, BOB, "from the first"),
        lock_in_order(BOB, ALICE, "from the second"),
        return_exceptions=True,
    )

    assert sorted(type(outcome).__name__ for outcome in outcomes) == [
        "NoneType",
        "WriteConflictError",
    ]
    assert isinstance(next(o for o in outcomes if o is not None), WriteConflictError)
    async with race.engine.connect() as connection:
        bios = set((await connection.execute(sa.text("SELECT bio FROM users"))).scalars())
    assert len(bios - {None, ""}) == 1
