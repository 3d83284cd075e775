"""The articles use cases on in-memory adapters: state, results, rules and events."""

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from application.articles.delete_article import DeleteArticleCommand
from application.articles.delete_comment import DeleteCommentCommand
from application.articles.errors import (
    ArticleNotFoundError,
    CommentDeletionForbiddenError,
    CommentNotFoundError,
    NotArticleAuthorError,
)
from application.articles.favorite_relation import FavoriteCommand
from application.articles.feed_articles import FeedArticlesCommand
from application.articles.get_article import GetArticleCommand
from application.articles.list_articles import ListArticlesCommand
from application.articles.list_comments import ListCommentsCommand
from application.articles.pagination import PageRequest
from application.articles.publish_article import PublishArticleCommand
from application.articles.read_cache import CONTENT_GENERATION_KEY
from application.articles.update_article import UpdateArticleCommand
from application.common.errors import InvalidInputError
from application.common.identity import Identity
from application.profiles.follow_relation import FollowCommand
from application.users.update_user import UpdateUserCommand
from domain.shared.errors import DomainError
from domain.users.values import Role
from tests.support.articles import ArticlesWorld

FIRST_PAGE = PageRequest()


@pytest.fixture
def world() -> ArticlesWorld:
    return ArticlesWorld()


async def listed(world: ArticlesWorld, viewer: Identity | None = None, **filters: str) -> list[str]:
    page = await world.list_articles()(
        ListArticlesCommand(page=FIRST_PAGE, viewer=viewer, **filters)
    )
    return [article.slug for article in page.articles]


async def test_publish_makes_a_slug_and_raises_article_published(world: ArticlesWorld) -> None:
    author = await world.writer("alice")
    article = await world.publish(author, "How to Train Your Dragon", tags=("dragons", "howto"))
    assert article.slug == "how-to-train-your-dragon"
    assert article.tags == ("dragons", "howto")
    assert article.author.username == "alice"
    assert (article.favorited, article.favorites_count) == (False, 0)
    assert article.created_at == article.updated_at
    assert world.event_types()[-1] == "article.published"


async def test_equal_titles_get_distinct_slugs(world: ArticlesWorld) -> None:
    author = await world.writer("alice")
    slugs = {(await world.publish(author, "Same title")).slug for _ in range(3)}
    assert len(slugs) == 3
    assert all(slug.startswith("same-title") for slug in slugs)


@pytest.mark.parametrize(
    ("title", "slug"),
    [("Ünïcödé  Tïtle!", "unicode-title"), ("日本語", "article"), ("--a--b--", "a-b")],
)
async def test_slugs_are_ascii_words(world: ArticlesWorld, title: str, slug: str) -> None:
    author = await world.writer("alice")
    assert (await world.publish(author, title)).slug == slug


async def test_tags_are_trimmed_deduplicated_and_kept_in_order(world: ArticlesWorld) -> None:
    author = await world.writer("alice")
    article = await world.publish(author, tags=(" b ", "a", "b", "c"))
    assert article.tags == ("b", "a", "c")


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("title", {"title": " "}),
        ("description", {"description": ""}),
        ("body", {"body": ""}),
        ("title", {"title": "x" * 201}),
        ("title", {"title": "two\nlines"}),
        ("tagList", {"tags": ("",)}),
        ("tagList", {"tags": tuple(f"t{i}" for i in range(21))}),
        ("tagList", {"tags": ("bad\x00tag",)}),
    ],
)
async def test_publish_names_the_invalid_field(
    world: ArticlesWorld, field: str, changes: dict[str, Any]
) -> None:
    author = await world.writer("alice")
    command = PublishArticleCommand(actor=author, title="T", description="D", body="B")
    with pytest.raises(DomainError) as error:
        await world.publish_article()(replace(command, **changes))
    assert error.value.field == field
    assert await listed(world) == []


async def test_only_the_author_updates_and_the_slug_stays(world: ArticlesWorld) -> None:
    alice, bob = await world.writer("alice"), await world.writer("bob")
    article = await world.publish(alice, "First title", tags=("a", "b"))
    with pytest.raises(NotArticleAuthorError):
        await world.update_article()(UpdateArticleCommand(actor=bob, slug=article.slug, body="x"))
    world.clock.advance(timedelta(seconds=1))
    updated = await world.update_article()(
        UpdateArticleCommand(actor=alice, slug=article.slug, title="New title", body="New body")
    )
    assert (updated.slug, updated.title, updated.body) == (article.slug, "New title", "New body")
    assert updated.tags == ("a", "b")
    assert updated.updated_at > updated.created_at == article.created_at
    assert world.database.outbox[-1].event.changed == ("title", "body")  # type: ignore[attr-defined]


async def test_an_update_that_changes_nothing_keeps_updated_at_and_raises_nothing(
    world: ArticlesWorld,
) -> None:
    alice = await world.writer("alice")
    article = await world.publish(alice)
    events = len(world.database.outbox)
    world.clock.advance(timedelta(seconds=1))
    same = await world.update_article()(
        UpdateArticleCommand(actor=alice, slug=article.slug, body="The body")
    )
    assert same.updated_at == article.updated_at
    assert len(world.database.outbox) == events


async def test_an_empty_tag_list_removes_every_tag(world: ArticlesWorld) -> None:
    alice = await world.writer("alice")
    article = await world.publish(alice, tags=("a",))
    updated = await world.update_article()(
        UpdateArticleCommand(actor=alice, slug=article.slug, tags=())
    )
    assert updated.tags == ()
    assert await world.list_tags()() == []


async def test_only_the_author_deletes_and_comments_and_favorites_go_too(
    world: ArticlesWorld,
) -> None:
    alice, bob = await world.writer("alice"), await world.writer("bob")
    article = await world.publish(alice)
    await world.comment(bob, article.slug)
    await world.favorite_article()(FavoriteCommand(actor=bob, slug=article.slug))
    with pytest.raises(NotArticleAuthorError):
        await world.delete_article()(DeleteArticleCommand(actor=bob, slug=article.slug))
    await world.delete_article()(DeleteArticleCommand(actor=alice, slug=article.slug))
    assert world.event_types()[-1] == "article.deleted"
    with pytest.raises(ArticleNotFoundError):
        await world.get_article()(GetArticleCommand(slug=article.slug, viewer=None))
    assert world.database.table("comments") == {}
    assert world.database.table("favorites") == {}


async def test_a_moderator_may_not_delete_someone_elses_article(world: ArticlesWorld) -> None:
    alice = await world.writer("alice")
    moderator = replace(await world.writer("mod"), role=Role.MODERATOR)
    article = await world.publish(alice)
    with pytest.raises(NotArticleAuthorError):
        await world.delete_article()(DeleteArticleCommand(actor=moderator, slug=article.slug))


async def test_favorites_count_once_and_raise_one_event_each_way(world: ArticlesWorld) -> None:
    alice, bob = await world.writer("alice"), await world.writer("bob")
    article = await world.publish(alice)
    for _ in range(2):
        favored = await world.favorite_article()(FavoriteCommand(actor=bob, slug=article.slug))
    assert (favored.favorited, favored.favorites_count) == (True, 1)
    anonymous = await world.get_article()(GetArticleCommand(slug=article.slug, viewer=None))
    assert (anonymous.favorited, anonymous.favorites_count) == (False, 1)
    for _ in range(2):
        dropped = await world.unfavorite_article()(FavoriteCommand(actor=bob, slug=article.slug))
    assert (dropped.favorited, dropped.favorites_count) == (False, 0)
    assert world.event_types().count("article.favorited") == 1
    assert world.event_types().count("article.unfavorited") == 1


async def test_unknown_slugs_are_not_found_everywhere(world: ArticlesWorld) -> None:
    alice = await world.writer("alice")
    for call in (
        world.favorite_article()(FavoriteCommand(actor=alice, slug="nope")),
        world.get_article()(GetArticleCommand(slug="Not A Slug\x00", viewer=None)),
        world.delete_article()(DeleteArticleCommand(actor=alice, slug="nope")),
        world.list_comments()(ListCommentsCommand(slug="nope", page=FIRST_PAGE, viewer=None)),
    ):
        with pytest.raises(ArticleNotFoundError):
            await call


async def test_lists_are_newest_first_with_ties_broken_by_id(world: ArticlesWorld) -> None:
    alice = await world.writer("alice")
    first = await world.publish(alice, "one")
    second = await world.publish(alice, "two")
    world.clock.advance(timedelta(seconds=1))
    third = await world.publish(alice, "three")
    assert await listed(world) == [third.slug, second.slug, first.slug]


async def test_filters_combine_and_the_total_counts_every_match(world: ArticlesWorld) -> None:
    alice, bob = await world.writer("alice"), await world.writer("bob")
    for index in range(3):
        await world.publish(alice, f"a{index}", tags=("x",))
    bobs = await world.publish(bob, "b", tags=("x", "y"))
    await world.favorite_article()(FavoriteCommand(actor=alice, slug=bobs.slug))
    assert await listed(world, tag="y") == [bobs.slug]
    assert len(await listed(world, tag="x", author="alice")) == 3
    assert await listed(world, favorited="alice") == [bobs.slug]
    assert await listed(world, favorited="bob") == []
    assert await listed(world, author="nobody") == []
    assert await listed(world, author="bad name\x00") == []
    page = await world.list_articles()(
        ListArticlesCommand(page=PageRequest(limit=1, offset=1), viewer=None, tag="x")
    )
    assert (len(page.articles), page.total) == (1, 4)
    assert page.articles[0].body is None


@pytest.mark.parametrize(("limit", "offset"), [(101, 0), (-1, 0), (20, -1)])
def test_page_requests_are_bounded(limit: int, offset: int) -> None:
    with pytest.raises(InvalidInputError):
        PageRequest(limit=limit, offset=offset)


async def test_the_feed_holds_only_followed_authors(world: ArticlesWorld) -> None:
    alice, bob, carol = [await world.writer(name) for name in ("alice", "bob", "carol")]
    bobs = await world.publish(bob, "by bob")
    await world.publish(carol, "by carol")
    feed = world.feed_articles()
    assert (await feed(FeedArticlesCommand(actor=alice, page=FIRST_PAGE))).total == 0
    await world.follow_user()(FollowCommand(actor=alice, username="bob"))
    page = await feed(FeedArticlesCommand(actor=alice, page=FIRST_PAGE))
    assert [a.slug for a in page.articles] == [bobs.slug]
    assert page.articles[0].author.following is True


async def test_comments_are_listed_newest_first_with_integer_ids(world: ArticlesWorld) -> None:
    alice, bob = await world.writer("alice"), await world.writer("bob")
    article = await world.publish(alice)
    first = await world.comment(bob, article.slug, "first")
    second = await world.comment(alice, article.slug, "second")
    assert second.id == first.id + 1
    assert first.author.username == "bob"
    listed_comments = await world.list_comments()(
        ListCommentsCommand(slug=article.slug, page=FIRST_PAGE, viewer=None)
    )
    assert [c.body for c in listed_comments] == ["second", "first"]
    assert world.event_types().count("comment.added") == 2


async def test_a_comment_is_deleted_by_its_author_or_a_moderator_only(world: ArticlesWorld) -> None:
    alice, bob = await world.writer("alice"), await world.writer("bob")
    moderator = replace(await world.writer("mod"), role=Role.MODERATOR)
    article = await world.publish(alice)
    comment = await world.comment(bob, article.slug)
    delete = world.delete_comment()
    with pytest.raises(CommentDeletionForbiddenError):
        await delete(DeleteCommentCommand(actor=alice, slug=article.slug, comment_id=comment.id))
    await delete(DeleteCommentCommand(actor=moderator, slug=article.slug, comment_id=comment.id))
    assert world.event_types()[-1] == "comment.deleted"
    mine = await world.comment(bob, article.slug)
    await delete(DeleteCommentCommand(actor=bob, slug=article.slug, comment_id=mine.id))
    assert world.database.table("comments") == {}


async def test_a_comment_is_found_only_under_its_own_article(world: ArticlesWorld) -> None:
    alice = await world.writer("alice")
    one, other = await world.publish(alice, "one"), await world.publish(alice, "other")
    comment = await world.comment(alice, one.slug)
    for slug, comment_id in ((other.slug, comment.id), (one.slug, 0), (one.slug, 1 << 70)):
        with pytest.raises(CommentNotFoundError):
            await world.delete_comment()(
                DeleteCommentCommand(actor=alice, slug=slug, comment_id=comment_id)
            )


async def test_tags_are_ordered_by_use_and_vanish_with_their_last_article(
    world: ArticlesWorld,
) -> None:
    alice = await world.writer("alice")
    await world.publish(alice, "one", tags=("rare", "common"))
    doomed = await world.publish(alice, "two", tags=("common", "gone"))
    await world.publish(alice, "three", tags=("common",))
    assert await world.list_tags()() == ["common", "gone", "rare"]
    await world.delete_article()(DeleteArticleCommand(actor=alice, slug=doomed.slug))
    assert await world.list_tags()() == ["common", "rare"]


async def test_writes_that_change_anonymous_reads_bump_the_content_generation(
    world: ArticlesWorld,
) -> None:
    alice = await world.writer("alice")
    generations = [await world.cache.get(CONTENT_GENERATION_KEY)]
    article = await world.publish(alice)
    generations.append(await world.cache.get(CONTENT_GENERATION_KEY))
    favor = FavoriteCommand(actor=alice, slug=article.slug)
    await world.favorite_article()(favor)
    generations.append(await world.cache.get(CONTENT_GENERATION_KEY))
    await world.unfavorite_article()(favor)
    generations.append(await world.cache.get(CONTENT_GENERATION_KEY))
    await world.update_article()(
        UpdateArticleCommand(actor=alice, slug=article.slug, body="Another body")
    )
    generations.append(await world.cache.get(CONTENT_GENERATION_KEY))
    await world.update_user()(
        UpdateUserCommand(actor=alice, access_token="token", bio="Writes about dragons")
    )
    generations.append(await world.cache.get(CONTENT_GENERATION_KEY))
    await world.delete_article()(DeleteArticleCommand(actor=alice, slug=article.slug))
    generations.append(await world.cache.get(CONTENT_GENERATION_KEY))
    assert generations == [None, b"1", b"2", b"3", b"4", b"5", b"6"]


async def test_writes_that_change_nothing_leave_the_cached_reads(world: ArticlesWorld) -> None:
    alice = await world.writer("alice")
    article = await world.publish(alice)
    generation = await world.cache.get(CONTENT_GENERATION_KEY)
    favor = FavoriteCommand(actor=alice, slug=article.slug)
    await world.unfavorite_article()(favor)
    await world.update_article()(UpdateArticleCommand(actor=alice, slug=article.slug))
    await world.update_user()(UpdateUserCommand(actor=alice, access_token="token"))
    with pytest.raises(NotArticleAuthorError):
        await world.delete_article()(
            DeleteArticleCommand(actor=await world.writer("bob"), slug=article.slug)
        )
    assert await world.cache.get(CONTENT_GENERATION_KEY) == generation


async def test_cached_reads_go_stale_only_once_the_outermost_transaction_commits(
    world: ArticlesWorld,
) -> None:
    alice = await world.writer("alice")
    uow = world.uow()
    publish = world.publish_article(uow)
    command = PublishArticleCommand(actor=alice, title="Nested", description="d", body="b")
    async with uow:
        await publish(command)
    assert await world.cache.get(CONTENT_GENERATION_KEY) is None  # rolled back
    async with uow:
        await publish(command)
        assert await world.cache.get(CONTENT_GENERATION_KEY) is None  # not committed yet
        await uow.commit()
    assert await world.cache.get(CONTENT_GENERATION_KEY) == b"1"
