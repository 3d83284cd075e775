"""Use case: fill the store with realistic demo content, the same for the same seed."""

import itertools
import random
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from application.common.errors import ApplicationError, InvalidInputError
from application.content.read_cache import invalidate_content_reads
from application.identity.errors import EmailTakenError, UsernameTakenError
from application.ports.cache import Cache
from application.ports.content import ArticleRepository, CommentRepository
from application.ports.persistence import UnitOfWork, UserRepository
from application.ports.security import PasswordHasher
from application.ports.system import Clock
from domain.articles.article import Article
from domain.articles.comment import Comment
from domain.articles.values import (
    ArticleId,
    Body,
    CommentBody,
    Description,
    Slug,
    TagList,
    Title,
)
from domain.users.user import User
from domain.users.values import Email, Password, Profile, Role, UserId, Username

MAX_USERS = 100_000
MAX_ARTICLES = 100_000
MAX_COMMENTS = 1_000_000
ARTICLES_PER_TRANSACTION = 25
DEMO_EMAIL_DOMAIN = "example.com"
MAX_FOLLOWS_PER_USER = 6
MAX_FAVORITES_PER_ARTICLE = 6
MAX_TAGS_PER_ARTICLE = 4

_DEMO_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://portico.invalid/demo-content")
_USERS_JOIN_FROM = timedelta(days=90)
_USERS_JOIN_UNTIL = timedelta(days=60)
_ARTICLES_UNTIL = timedelta(hours=1)

_FIRST_NAMES = (
    "aisha", "alejandro", "amara", "anna", "arjun", "ben", "camila", "chen", "chloe", "daniel",
    "diego", "elena", "emeka", "emma", "fatima", "felix", "hana", "hiroshi", "ines", "ivan",
    "jonas", "julia", "kofi", "lars", "leila", "lucas", "maya", "mateo", "mei", "nadia",
    "noah", "olga", "omar", "priya", "rafael", "sara", "sofia", "tomas", "yuki", "zanele",
)  # fmt: skip
_LAST_NAMES = (
    "adeyemi", "andersson", "bauer", "costa", "dubois", "fischer", "garcia", "haddad", "ivanova",
    "jensen", "kim", "kowalski", "lopez", "martin", "mendes", "moreau", "mueller", "nakamura",
    "nguyen", "novak", "okafor", "olsen", "patel", "petrov", "rossi", "santos", "schmidt",
    "silva", "singh", "suzuki", "tanaka", "torres", "van-dijk", "wang", "weber", "wilson",
    "yamamoto", "yilmaz", "zhang", "zimmermann",
)  # fmt: skip
_JOBS = (
    "Backend engineer", "Frontend developer", "Site reliability engineer", "Engineering manager",
    "Data engineer", "Full-stack developer", "Security engineer", "Staff engineer",
    "Mobile developer", "Platform engineer", "Developer advocate", "Database administrator",
)  # fmt: skip
_COMPANIES = (
    "Acme", "Globex", "Hooli", "Initech", "Massive Dynamic", "Northwind", "Pied Piper",
    "Soylent", "Umbrella Labs", "Vandelay Industries", "Wayne Enterprises", "a small startup",
)  # fmt: skip

_TOPICS = (
    ("PostgreSQL indexes", "postgresql"),
    ("async Python", "python"),
    ("type hints in Python", "python"),
    ("feature flags", "devops"),
    ("zero-downtime deploys", "devops"),
    ("code review", "engineering-culture"),
    ("hexagonal architecture", "architecture"),
    ("modular monoliths", "architecture"),
    ("property-based testing", "testing"),
    ("flaky tests", "testing"),
    ("Kubernetes autoscaling", "kubernetes"),
    ("TypeScript generics", "typescript"),
    ("React server components", "react"),
    ("structured logging", "observability"),
    ("distributed tracing", "observability"),
    ("rate limiting", "api-design"),
    ("API versioning", "api-design"),
    ("database migrations", "databases"),
    ("SQL window functions", "sql"),
    ("event sourcing", "ddd"),
    ("bounded contexts", "ddd"),
    ("the outbox pattern", "distributed-systems"),
    ("idempotent consumers", "distributed-systems"),
    ("Rust ownership", "rust"),
    ("Go concurrency", "go"),
    ("CSS grid", "css"),
    ("threat modeling", "security"),
    ("password hashing", "security"),
    ("on-call rotations", "sre"),
    ("incident reviews", "sre"),
    ("technical interviews", "career"),
    ("pair programming", "productivity"),
    ("caching", "performance"),
    ("load testing", "performance"),
    ("monorepos", "git"),
    ("small Docker images", "docker"),
    ("Linux performance tools", "linux"),
    ("open-source maintenance", "open-source"),
    ("machine learning pipelines", "machine-learning"),
    ("serverless functions", "cloud"),
    ("accessibility", "web"),
    ("refactoring legacy code", "refactoring"),
)
_EXTRA_TAGS = ("beginners", "tutorial", "opinion", "lessons-learned", "webdev", "programming")
DEMO_TAGS = tuple(sorted({tag for _, tag in _TOPICS} | set(_EXTRA_TAGS)))

_TITLES = (
    "A practical guide to {topic}",
    "{n} lessons from a year of {topic}",
    "Why {topic} matters more than you think",
    "What I got wrong about {topic}",
    "{Topic}: a field report",
    "Getting started with {topic}",
    "The hidden cost of {topic}",
    "Stop worrying about {topic}",
    "{Topic} in production",
    "Notes on {topic}",
    "Rethinking {topic}",
    "How {company} does {topic}",
    "{n} mistakes to avoid with {topic}",
    "{Topic}, explained without the hype",
)
_SUBJECTS = (
    "The team", "Our API", "The new cache", "A small refactor", "The migration",
    "The on-call rotation", "The test suite", "This pattern", "The query planner",
    "Our staging environment", "The first prototype", "Code review",
)  # fmt: skip
_VERBS = (
    "cut", "simplified", "exposed", "replaced", "doubled", "untangled", "sped up",
    "documented", "hid", "removed", "measured", "rewrote",
)  # fmt: skip
_OBJECTS = (
    "the latency of the slowest endpoint", "three layers of indirection",
    "a race in the session refresh", "most of the boilerplate", "the deploy time",
    "an N+1 query nobody had noticed", "our error budget", "the onboarding guide",
    "half of the flaky tests", "the retry logic", "the nightly batch job",
    "a decade of legacy configuration",
)  # fmt: skip
_TAILS = (
    "", " in a single afternoon", " without anyone noticing", " once we measured it properly",
    " after the third incident", " for good", " with surprisingly little code",
    " before the next release",
)  # fmt: skip
_MAXIMS = (
    "Measure before you optimize.",
    "Small pull requests get better reviews.",
    "Boring technology is a feature.",
    "Every retry needs a budget.",
    "Write the runbook before you need it.",
    "Delete code with confidence, or not at all.",
    "A test that never fails tells you nothing.",
    "Make the change easy, then make the easy change.",
)
_HEADINGS = (
    "Background", "The problem", "What we tried", "What worked", "Trade-offs", "Results",
    "Lessons learned", "Next steps", "Further reading",
)  # fmt: skip
_COMMENT_OPENERS = (
    "Great write-up!", "Thanks for sharing this.", "This matches our experience.",
    "Interesting take.", "I'm not fully convinced.", "Bookmarked.",
    "We hit exactly this last quarter.", "Nice!", "Could you share the numbers?",
    "How did you handle rollbacks?", "Clear and to the point.", "Saving this for the team.",
)  # fmt: skip


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

    def __init__(self) -> None:
        super().__init__("no demo user could be created or reused to write the articles")


@dataclass(frozen=True, slots=True)
class _Member:
    """A demo user available as an author, follower or fan, and how active they are."""

    id: UserId
    joined_at: datetime
    activity: float


@dataclass(frozen=True, slots=True)
class _Roster:
    """The available demo users, with cumulative activity for weighted picks."""

    members: Sequence[_Member]
    cumulative_activity: Sequence[float]

    def pick(self, rng: random.Random) -> _Member:
        """One member, the more active the likelier."""
        return rng.choices(self.members, cum_weights=self.cumulative_activity)[0]

    def pick_distinct(
        self, rng: random.Random, count: int, *, excluding: UserId | None = None
    ) -> list[_Member]:
        """Up to `count` different members, the more active the likelier, none `excluding`."""
        eligible = len(self.members) - (excluding is not None)
        wanted = min(count, eligible)
        if wanted <= 0:
            return []
        draws = rng.choices(self.members, cum_weights=self.cumulative_activity, k=wanted * 4)
        distinct = {member.id: member for member in draws if member.id != excluding}
        return list(distinct.values())[:wanted]


@dataclass(frozen=True, slots=True)
class _DraftComment:
    author_id: UserId
    body: CommentBody
    at: datetime


@dataclass(frozen=True, slots=True)
class _DraftArticle:
    article: Article
    comments: Sequence[_DraftComment]
    fans: Sequence[tuple[UserId, datetime]]


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
        cache: Cache,
    ) -> None:
        self._uow = uow
        self._users = users
        self._articles = articles
        self._comments = comments
        self._hasher = hasher
        self._clock = clock
        self._cache = cache

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
            await invalidate_content_reads(self._cache)
        return report

    async def _store_users(
        self,
        command: SeedDemoContentCommand,
        anchor: datetime,
        password_hash: str,
        tally: Counter[str],
    ) -> _Roster:
        planned = _plan_users(command.seed, command.users, anchor, password_hash)
        members: list[_Member] = []
        async with self._uow:
            for user, activity in planned:
                existing = await self._users.get_by_username(str(user.username))
                if existing is not None:
                    tally["users_skipped"] += 1
                    members.append(_Member(existing.id, existing.created_at, activity))
                    continue
                try:
                    await self._users.add(user)
                except (UsernameTakenError, EmailTakenError):
                    tally["users_skipped"] += 1
                    continue
                tally["users_created"] += 1
                members.append(_Member(user.id, user.created_at, activity))
            roster = _Roster(members, list(itertools.accumulate(m.activity for m in members)))
            await self._store_follows(command.seed, roster, anchor, tally)
            await self._uow.commit()
        return roster

    async def _store_follows(
        self, seed: int, roster: _Roster, anchor: datetime, tally: Counter[str]
    ) -> None:
        for position, follower in enumerate(roster.members):
            rng = _rng(seed, "follows", position)
            count = rng.randint(1, MAX_FOLLOWS_PER_USER)
            for followee in roster.pick_distinct(rng, count, excluding=follower.id):
                since = max(follower.joined_at, followee.joined_at)
                at = _between(rng, since, anchor)
                added = await self._users.add_follow(follower.id, followee.id, at=at)
                tally["follows_created" if added else "follows_skipped"] += 1

    async def _store_articles(
        self,
        command: SeedDemoContentCommand,
        roster: _Roster,
        anchor: datetime,
        tally: Counter[str],
        advance: Callable[[int], None],
    ) -> None:
        if not roster.members:
            raise NoDemoAuthorError
        comment_counts = _spread_comments(command.seed, command.articles, command.comments)
        slugs: set[str] = set()
        for start in range(0, command.articles, ARTICLES_PER_TRANSACTION):
            stop = min(start + ARTICLES_PER_TRANSACTION, command.articles)
            drafts = [
                _draft_article(
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

    async def _store_article(self, draft: _DraftArticle, tally: Counter[str]) -> None:
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


def _rng(seed: int, kind: str, index: int) -> random.Random:
    """The generator for one item: string seeds are hashed (SHA-512), stable across runs."""
    return random.Random(f"{seed}:{kind}:{index}")  # noqa: S311 - demo data, not secrets


def _demo_id(seed: int, kind: str, index: int) -> uuid.UUID:
    return uuid.uuid5(_DEMO_NAMESPACE, f"{seed}:{kind}:{index}")


def _between(rng: random.Random, earliest: datetime, latest: datetime) -> datetime:
    """A whole second in [earliest, latest], or `earliest` when the range is empty."""
    span = int((latest - earliest).total_seconds())
    return earliest + timedelta(seconds=rng.randint(0, span)) if span > 0 else earliest


def _plan_users(
    seed: int, count: int, anchor: datetime, password_hash: str
) -> list[tuple[User, float]]:
    """Each demo user in index order, with an activity weight; usernames distinct."""
    taken: set[str] = set()
    planned: list[tuple[User, float]] = []
    for index in range(count):
        rng = _rng(seed, "user", index)
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        username = _distinct(_username_base(rng, first, last), taken, index)
        joined = _between(rng, anchor - _USERS_JOIN_FROM, anchor - _USERS_JOIN_UNTIL)
        bio = (
            f"{rng.choice(_JOBS)} at {rng.choice(_COMPANIES)}. "
            f"Writes about {rng.choice(_TOPICS)[0]} and {rng.choice(_TOPICS)[0]}."
            if rng.random() < 0.8
            else None
        )
        user = User(
            id=UserId(_demo_id(seed, "user", index)),
            username=Username(username),
            email=Email(f"{username}@{DEMO_EMAIL_DOMAIN}"),
            password_hash=password_hash,
            profile=Profile(bio=bio),
            role=Role.USER,
            created_at=joined,
            updated_at=joined,
            email_verified_at=joined,
        )
        planned.append((user, rng.paretovariate(1.5)))
    return planned


def _username_base(rng: random.Random, first: str, last: str) -> str:
    style = rng.randrange(5)
    if style == 0:
        return f"{first}.{last}"
    if style == 1:
        return f"{first}_{last}"
    if style == 2:
        return f"{first[0]}{last}"
    if style == 3:
        return f"{first}{rng.randint(1, 99)}"
    return f"{first}.{last[0]}"


def _distinct(base: str, taken: set[str], index: int) -> str:
    """`base`, or `base` with the smallest number from `index` on that makes it unused."""
    candidate = base
    for number in itertools.count(index):
        if candidate not in taken:
            break
        candidate = f"{base}{number}"
    taken.add(candidate)
    return candidate


def _spread_comments(seed: int, articles: int, comments: int) -> list[int]:
    """How many comments each article gets: exactly `comments` in all, a few articles many."""
    rng = _rng(seed, "comment-spread", 0)
    popularity = itertools.accumulate(rng.paretovariate(2.0) for _ in range(articles))
    picks = Counter(rng.choices(range(articles), cum_weights=list(popularity), k=comments))
    return [picks[index] for index in range(articles)]


def _draft_article(
    seed: int,
    index: int,
    *,
    comment_count: int,
    roster: _Roster,
    anchor: datetime,
    slugs: set[str],
) -> _DraftArticle:
    """Article `index` with its comments and fans; `slugs` holds those drafted so far."""
    rng = _rng(seed, "article", index)
    topic, topic_tag = rng.choice(_TOPICS)
    title = Title(
        rng.choice(_TITLES).format(
            topic=topic,
            Topic=topic[0].upper() + topic[1:],
            n=rng.randint(3, 12),
            company=rng.choice(_COMPANIES),
        )
    )
    article_id = ArticleId(_demo_id(seed, "article", index))
    slug = Slug.from_title(title).disambiguated(article_id)
    if str(slug) in slugs:
        slug = Slug(f"{Slug.from_title(title)}-{article_id.value.hex}")
    slugs.add(str(slug))
    other_tags = rng.sample(DEMO_TAGS, rng.randint(0, MAX_TAGS_PER_ARTICLE - 1))
    author = roster.pick(rng)
    earliest = max(author.joined_at, anchor - _USERS_JOIN_UNTIL)
    published = _between(rng, earliest, anchor - _ARTICLES_UNTIL)
    article = Article(
        id=article_id,
        author_id=author.id,
        slug=slug,
        title=title,
        description=Description(_sentence(rng)),
        body=Body(_body(rng)),
        tags=TagList.parse([topic_tag, *other_tags]),
        created_at=published,
        updated_at=published,
    )
    comments = sorted(
        (_draft_comment(rng, roster, published, anchor) for _ in range(comment_count)),
        key=lambda comment: comment.at,
    )
    fans = [
        (fan.id, _between(rng, published, anchor))
        for fan in roster.pick_distinct(
            rng, rng.randint(0, MAX_FAVORITES_PER_ARTICLE), excluding=author.id
        )
    ]
    return _DraftArticle(article, comments, fans)


def _draft_comment(
    rng: random.Random, roster: _Roster, published: datetime, anchor: datetime
) -> _DraftComment:
    author = roster.pick(rng)
    return _DraftComment(author.id, CommentBody(_comment(rng)), _between(rng, published, anchor))


def _sentence(rng: random.Random) -> str:
    if rng.random() < 0.15:
        return rng.choice(_MAXIMS)
    return (
        f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}{rng.choice(_TAILS)}."
    )


def _paragraph(rng: random.Random) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(2, 5)))


def _body(rng: random.Random) -> str:
    """Markdown: an introduction, then a few headed sections, one perhaps with a list."""
    parts = [_paragraph(rng)]
    for heading in rng.sample(_HEADINGS, rng.randint(2, 4)):
        parts.append(f"## {heading}")
        parts.append(_paragraph(rng))
        if rng.random() < 0.3:
            parts.append("\n".join(f"- {_sentence(rng)}" for _ in range(rng.randint(2, 4))))
    return "\n\n".join(parts)


def _comment(rng: random.Random) -> str:
    opener = rng.choice(_COMMENT_OPENERS)
    return f"{opener} {_sentence(rng)}" if rng.random() < 0.7 else opener
