"""The words demo content is made of, and how they are strung into sentences and texts.

Every function draws only from the `random.Random` it is given, so the same generator state
always yields the same text.
"""

import random

FIRST_NAMES = (
    "aisha", "alejandro", "amara", "anna", "arjun", "ben", "camila", "chen", "chloe", "daniel",
    "diego", "elena", "emeka", "emma", "fatima", "felix", "hana", "hiroshi", "ines", "ivan",
    "jonas", "julia", "kofi", "lars", "leila", "lucas", "maya", "mateo", "mei", "nadia",
    "noah", "olga", "omar", "priya", "rafael", "sara", "sofia", "tomas", "yuki", "zanele",
)  # fmt: skip
LAST_NAMES = (
    "adeyemi", "andersson", "bauer", "costa", "dubois", "fischer", "garcia", "haddad", "ivanova",
    "jensen", "kim", "kowalski", "lopez", "martin", "mendes", "moreau", "mueller", "nakamura",
    "nguyen", "novak", "okafor", "olsen", "patel", "petrov", "rossi", "santos", "schmidt",
    "silva", "singh", "suzuki", "tanaka", "torres", "van-dijk", "wang", "weber", "wilson",
    "yamamoto", "yilmaz", "zhang", "zimmermann",
)  # fmt: skip
JOBS = (
    "Backend engineer", "Frontend developer", "Site reliability engineer", "Engineering manager",
    "Data engineer", "Full-stack developer", "Security engineer", "Staff engineer",
    "Mobile developer", "Platform engineer", "Developer advocate", "Database administrator",
)  # fmt: skip
COMPANIES = (
    "Acme", "Globex", "Hooli", "Initech", "Massive Dynamic", "Northwind", "Pied Piper",
    "Soylent", "Umbrella Labs", "Vandelay Industries", "Wayne Enterprises", "a small startup",
)  # fmt: skip

TOPICS = (
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
EXTRA_TAGS = ("beginners", "tutorial", "opinion", "lessons-learned", "webdev", "programming")
DEMO_TAGS = tuple(sorted({tag for _, tag in TOPICS} | set(EXTRA_TAGS)))

TITLES = (
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
SUBJECTS = (
    "The team", "Our API", "The new cache", "A small refactor", "The migration",
    "The on-call rotation", "The test suite", "This pattern", "The query planner",
    "Our staging environment", "The first prototype", "Code review",
)  # fmt: skip
VERBS = (
    "cut", "simplified", "exposed", "replaced", "doubled", "untangled", "sped up",
    "documented", "hid", "removed", "measured", "rewrote",
)  # fmt: skip
OBJECTS = (
    "the latency of the slowest endpoint", "three layers of indirection",
    "a race in the session refresh", "most of the boilerplate", "the deploy time",
    "an N+1 query nobody had noticed", "our error budget", "the onboarding guide",
    "half of the flaky tests", "the retry logic", "the nightly batch job",
    "a decade of legacy configuration",
)  # fmt: skip
TAILS = (
    "", " in a single afternoon", " without anyone noticing", " once we measured it properly",
    " after the third incident", " for good", " with surprisingly little code",
    " before the next release",
)  # fmt: skip
MAXIMS = (
    "Measure before you optimize.",
    "Small pull requests get better reviews.",
    "Boring technology is a feature.",
    "Every retry needs a budget.",
    "Write the runbook before you need it.",
    "Delete code with confidence, or not at all.",
    "A test that never fails tells you nothing.",
    "Make the change easy, then make the easy change.",
)
HEADINGS = (
    "Background", "The problem", "What we tried", "What worked", "Trade-offs", "Results",
    "Lessons learned", "Next steps", "Further reading",
)  # fmt: skip
COMMENT_OPENERS = (
    "Great write-up!", "Thanks for sharing this.", "This matches our experience.",
    "Interesting take.", "I'm not fully convinced.", "Bookmarked.",
    "We hit exactly this last quarter.", "Nice!", "Could you share the numbers?",
    "How did you handle rollbacks?", "Clear and to the point.", "Saving this for the team.",
)  # fmt: skip


def sentence(rng: random.Random) -> str:
    """One sentence: usually subject, verb, object and tail; now and then a maxim."""
    if rng.random() < 0.15:
        return rng.choice(MAXIMS)
    return f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}{rng.choice(TAILS)}."


def _paragraph(rng: random.Random) -> str:
    return " ".join(sentence(rng) for _ in range(rng.randint(2, 5)))


def article_body(rng: random.Random) -> str:
    """Markdown: an introduction, then a few headed sections, one perhaps with a list."""
    parts = [_paragraph(rng)]
    for heading in rng.sample(HEADINGS, rng.randint(2, 4)):
        parts.append(f"## {heading}")
        parts.append(_paragraph(rng))
        if rng.random() < 0.3:
            parts.append("\n".join(f"- {sentence(rng)}" for _ in range(rng.randint(2, 4))))
    return "\n\n".join(parts)


def comment_text(rng: random.Random) -> str:
    """An opener, usually followed by one sentence."""
    opener = rng.choice(COMMENT_OPENERS)
    return f"{opener} {sentence(rng)}" if rng.random() < 0.7 else opener
