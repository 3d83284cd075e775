from datetime import UTC, datetime

import pytest

from tests.support.events import Counter, CounterIncremented

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_events_are_handed_over_once() -> None:
    counter = Counter("c-1")
    counter.increment(2, now=NOW)
    counter.increment(3, now=NOW)
    assert counter.has_pending_events
    events = counter.pull_events()
    assert [e.amount for e in events if isinstance(e, CounterIncremented)] == [2, 3]
    assert counter.pull_events() == []
    assert not counter.has_pending_events


def test_an_event_needs_an_aware_time() -> None:
    naive = datetime(2026, 1, 1)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="timezone-aware"):
        CounterIncremented(aggregate_id="c", occurred_at=naive, amount=1)
