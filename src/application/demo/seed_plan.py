"""The deterministic plan of demo content: which users, follows, articles, comments, favorites.

Every choice comes from a `random.Random` seeded with the run's seed, the kind of item and
its index, and every id is a UUIDv5 of the same, so one seed always plans the same content.
Nothing here reads or writes the store.
"""

import itertools
import random
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from application.demo.vocabulary import (
    COMPANIES,
    DEMO_TAGS,
    FIRST_NAMES,
    JOBS,
    LAST_NAMES,
    TITLES,
    TOPICS,
    article_body,
    comment_text,
    sentence,
)
from domain.articles.article import Article
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
from domain.users.values import Email, Profile, Role, UserId, Username

DEMO_EMAIL_DOMAIN = "example.com"
MAX_FOLLOWS_PER_USER = 6
MAX_FAVORITES_PER_ARTICLE = 6
MAX_TAGS_PER_ARTICLE = 4

_DEMO_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://portico.invalid/demo-content")
_USERS_JOIN_FROM = timedelta(days=90)
_USERS_JOIN_UNTIL = timedelta(days=60)
_ARTICLES_UNTIL = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Member:
    """A demo user available as an author, follower or fan, and how active they are."""

    id: UserId
    joined_at: datetime
    activity: float


@dataclass(frozen=True, slots=True)
class Roster:
    """The available demo users, with cumulative activity for weighted picks."""

    members: Sequence[Member]
    cumulative_activity: Sequence[float]

    def pick(self, rng: random.Random) -> Member:
        """One member, the more active the likelier."""
        return rng.choices(self.members, cum_weights=self.cumulative_activity)[0]

    def pick_distinct(
        self, rng: random.Random, count: int, *, excluding: UserId | None = None
    ) -> list[Member]:
        """Up to `count` different members, the more active the likelier, none `excluding`."""
        eligible = len(self.members) - (excluding is not None)
        wanted = min(count, eligible)
        if wanted <= 0:
            return []
        draws = rng.choices(self.members, cum_weights=self.cumulative_activity, k=wanted * 4)
        distinct = {member.id: member for member in draws if member.id != excluding}
        return list(distinct.values())[:wanted]


@dataclass(frozen=True, slots=True)
class DraftComment:
    """A comment planned for an article, before the store gives it an id."""

    author_id: UserId
    body: CommentBody
    at: datetime


@dataclass(frozen=True, slots=True)
class DraftArticle:
    """An article with the comments and favorites planned for it, in the order to write."""

    article: Article
    comments: Sequence[DraftComment]
    fans: Sequence[tuple[UserId, datetime]]


def plan_users(
    seed: int, count: int, anchor: datetime, password_hash: str
) -> list[tuple[User, float]]:
    """Each demo user in index order, with an activity weight; usernames distinct."""
    taken: set[str] = set()
    planned: list[tuple[User, float]] = []
    for index in range(count):
        rng = _rng(seed, "user", index)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        username = _distinct(_username_base(rng, first, last), taken, index)
        joined = _between(rng, anchor - _USERS_JOIN_FROM, anchor - _USERS_JOIN_UNTIL)
        bio = (
            f"{rng.choice(JOBS)} at {rng.choice(COMPANIES)}. "
            f"Writes about {rng.choice(TOPICS)[0]} and {rng.choice(TOPICS)[0]}."
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


def plan_follows(
    seed: int, roster: Roster, anchor: datetime
) -> Iterator[tuple[UserId, UserId, datetime]]:
    """Follower, followee and when, for each member in roster order; never oneself."""
    for position, follower in enumerate(roster.members):
        rng = _rng(seed, "follows", position)
        count = rng.randint(1, MAX_FOLLOWS_PER_USER)
        for followee in roster.pick_distinct(rng, count, excluding=follower.id):
            since = max(follower.joined_at, followee.joined_at)
            yield follower.id, followee.id, _between(rng, since, anchor)


def spread_comments(seed: int, articles: int, comments: int) -> list[int]:
    """How many comments each article gets: exactly `comments` in all, a few articles many."""
    rng = _rng(seed, "comment-spread", 0)
    popularity = itertools.accumulate(rng.paretovariate(2.0) for _ in range(articles))
    picks = Counter(rng.choices(range(articles), cum_weights=list(popularity), k=comments))
    return [picks[index] for index in range(articles)]


def draft_article(
    seed: int,
    index: int,
    *,
    comment_count: int,
    roster: Roster,
    anchor: datetime,
    slugs: set[str],
) -> DraftArticle:
    """Article `index` with its comments and fans; `slugs` holds those drafted so far."""
    rng = _rng(seed, "article", index)
    topic, topic_tag = rng.choice(TOPICS)
    title = Title(
        rng.choice(TITLES).format(
            topic=topic,
            Topic=topic[0].upper() + topic[1:],
            n=rng.randint(3, 12),
            company=rng.choice(COMPANIES),
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
        description=Description(sentence(rng)),
        body=Body(article_body(rng)),
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
    return DraftArticle(article, comments, fans)


def _draft_comment(
    rng: random.Random, roster: Roster, published: datetime, anchor: datetime
) -> DraftComment:
    author = roster.pick(rng)
    return DraftComment(author.id, CommentBody(comment_text(rng)), _between(rng, published, anchor))


def _rng(seed: int, kind: str, index: int) -> random.Random:
    """The generator for one item: string seeds are hashed (SHA-512), stable across runs."""
    return random.Random(f"{seed}:{kind}:{index}")  # noqa: S311 - demo data, not secrets


def _demo_id(seed: int, kind: str, index: int) -> uuid.UUID:
    return uuid.uuid5(_DEMO_NAMESPACE, f"{seed}:{kind}:{index}")


def _between(rng: random.Random, earliest: datetime, latest: datetime) -> datetime:
    """A whole second in [earliest, latest], or `earliest` when the range is empty."""
    span = int((latest - earliest).total_seconds())
    return earliest + timedelta(seconds=rng.randint(0, span)) if span > 0 else earliest


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
