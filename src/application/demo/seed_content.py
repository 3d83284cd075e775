"""Use case: fill the store with realistic demo content, the same for the same seed.

What to write comes from `seed_plan`; this module checks the command, writes the plan through
the ports in transactions, and reports what it created and what it found already there.
"""

import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from application.articles.ports import ArticleRepository, CommentRepository
from application.articles.read_cache import ContentReadCache
from application.audit.capture import audited
from application.common.errors import ApplicationError, InvalidInputError
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from application.demo.seed_plan import (
    DraftArticle,
    Member,
    Roster,
    draft_article,
    plan_follows,
    plan_users,
    spread_comments,
)
from application.users.errors import EmailTakenError, UsernameTakenError
from application.users.ports import PasswordHasher, UserRepository
from domain.articles.comment import Comment
from domain.users.values import Password

MAX_USERS = 100_000
MAX_ARTICLES = 100_000
MAX_COMMENTS = 1_000_000
ARTICLES_PER_TRANSACTION = 25


@dataclass(frozen=True, slots=True, kw_only=True)
class SeedDemoContentCommand:
    """How much demo content to make, from which seed, and the password every demo user gets.

    Counts out of range raise `InvalidInputError` naming the field; a password the policy
    refuses raises `DomainError`.
    """

    users: int
    articles: int
    comments: int
    seed: int
    password: str = field(repr=False)

    def __post_init__(self) -> None:
        _check_range("users", self.users, 1, MAX_USERS)
        _check_range("articles", self.articles, 0, MAX_ARTICLES)
        _check_range("comments", self.comments, 0, MAX_COMMENTS)
        if self.comments and not self.articles:
            raise InvalidInputError("requires at least one article", field="comments")
        Password.parse(self.password)

    @property
    def total_items(self) -> int:
        """Users, articles and comments asked for: what the progress calls add up to."""
        return self.users + self.articles + self.comments


@dataclass(frozen=True, slots=True, kw_only=True)
class SeedReport:
    """What a run created, and what it found already there and left alone, per kind."""

    users_created: int = 0
    users_skipped: int = 0
    follows_created: int = 0
    follows_skipped: int = 0
    articles_created: int = 0
    articles_skipped: int = 0
    comments_created: int = 0
    comments_skipped: int = 0
    favorites_created: int = 0
    favorites_skipped: int = 0

    @property
    def created_total(self) -> int:
        """Every row of every kind this run added."""
        return (
            self.users_created
            + self.follows_created
            + self.articles_created
            + self.comments_created
            + self.favorites_created
        )


class NoDemoAuthorError(ApplicationError):
    """Every demo username or email is held by some other account, so nobody can write."""

    field = "users"
    message = "no demo user could be created or reused to write the articles"


@audited("demo.seed", target="demo")
class SeedDemoContent:
    """Fill the store with demo users, follows, articles, tags, favorites and comments.

    Rules:
    - Deterministic: every choice comes from `random.Random` seeded with the command's
      seed and the item's index, and ids are UUIDv5 of both, so one seed always yields the
      same usernames, emails, slugs, texts and relations. Timestamps spread over the 90 days
      before midnight (UTC) of the clock's today.
    - Idempotent by natural key: a user whose username exists is reused, not duplicated; an
      article whose slug exists is skipped with its comments and favorites; follows and
      favorites are added only when missing. A second run with the same command adds
      nothing.
    - Every demo user gets the command's password, hashed once, and a verified email.
    - Users and their follows are written in one transaction; articles with their tags,
      comments and favorites in transactions of `ARTICLES_PER_TRANSACTION` articles, so an
      interrupted run keeps whole articles only, and running it again completes it.
    - No domain events: demo data is not news. Nothing is tracked by the unit of work, so
      the outbox stays empty (no welcome emails, no notifications). Cached content reads are
      invalidated once at the end when anything was created.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        users: UserRepository,
        articles: ArticleRepository,
        comments: CommentRepository,
        hasher: PasswordHasher,
        clock: Clock,
        read_cache: ContentReadCache,
    ) -> None:
        self._uow = uow
        self._users = users
        self._articles = articles
        self._comments = comments
        self._hasher = hasher
        self._clock = clock
        self._read_cache = read_cache

    async def __call__(
        self, command: SeedDemoContentCommand, progress: Callable[[int], None] | None = None
    ) -> SeedReport:
        """Seed, calling `progress` with how many users, articles and comments were handled."""
        advance = progress or _ignore
        tally: Counter[str] = Counter()
        anchor = self._clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
        password_hash = await self._hasher.hash(Password.parse(command.password))
        roster = await self._store_users(command, anchor, password_hash, tally)
        advance(command.users)
        if command.articles:
            await self._store_articles(command, roster, anchor, tally, advance)
        report = SeedReport(**tally)
        if report.created_total:
            await self._read_cache.invalidate()
        return report

    async def _store_users(
        self,
        command: SeedDemoContentCommand,
        anchor: datetime,
        password_hash: str,
        tally: Counter[str],
    ) -> Roster:
        planned = plan_users(command.seed, command.users, anchor, password_hash)
        members: list[Member] = []
        async with self._uow:
            for user, activity in planned:
                existing = await self._users.get_by_username(str(user.username))
                if existing is not None:
                    tally["users_skipped"] += 1
                    members.append(Member(existing.id, existing.created_at, activity))
                    continue
                try:
                    await self._users.add(user)
                except (UsernameTakenError, EmailTakenError):
                    tally["users_skipped"] += 1
                    continue
                tally["users_created"] += 1
                members.append(Member(user.id, user.created_at, activity))
            roster = Roster(members, list(itertools.accumulate(m.activity for m in members)))
            await self._store_follows(command.seed, roster, anchor, tally)
            await self._uow.commit()
        return roster

    async def _store_follows(
        self, seed: int, roster: Roster, anchor: datetime, tally: Counter[str]
    ) -> None:
        for follower_id, followee_id, at in plan_follows(seed, roster, anchor):
            added = await self._users.add_follow(follower_id, followee_id, at=at)
            tally["follows_created" if added else "follows_skipped"] += 1

    async def _store_articles(
        self,
        command: SeedDemoContentCommand,
        roster: Roster,
        anchor: datetime,
        tally: Counter[str],
        advance: Callable[[int], None],
    ) -> None:
        if not roster.members:
            raise NoDemoAuthorError
        comment_counts = spread_comments(command.seed, command.articles, command.comments)
        slugs: set[str] = set()
        for start in range(0, command.articles, ARTICLES_PER_TRANSACTION):
            stop = min(start + ARTICLES_PER_TRANSACTION, command.articles)
            drafts = [
                draft_article(
                    command.seed,
                    index,
                    comment_count=comment_counts[index],
                    roster=roster,
                    anchor=anchor,
                    slugs=slugs,
                )
                for index in range(start, stop)
            ]
            async with self._uow:
                for draft in drafts:
                    await self._store_article(draft, tally)
                await self._uow.commit()
            advance(len(drafts) + sum(len(draft.comments) for draft in drafts))

    async def _store_article(self, draft: DraftArticle, tally: Counter[str]) -> None:
        article = draft.article
        if await self._articles.get_by_slug(str(article.slug)) is not None:
            tally["articles_skipped"] += 1
            tally["comments_skipped"] += len(draft.comments)
            tally["favorites_skipped"] += len(draft.fans)
            return
        await self._articles.add(article)
        tally["articles_created"] += 1
        for comment in draft.comments:
            await self._comments.add(
                Comment(
                    id=await self._comments.next_id(),
                    article_id=article.id,
                    author_id=comment.author_id,
                    body=comment.body,
                    created_at=comment.at,
                    updated_at=comment.at,
                )
            )
        tally["comments_created"] += len(draft.comments)
        for fan, at in draft.fans:
            added = await self._articles.add_favorite(fan, article.id, at=at)
            tally["favorites_created" if added else "favorites_skipped"] += 1


def _ignore(_handled: int) -> None:
    """The progress callback when the caller gives none."""


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise InvalidInputError(f"must be between {low} and {high}", field=name)
