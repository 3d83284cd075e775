from datetime import UTC, datetime, timedelta

import pytest

from adapters.memory.system import ManualClock, SequentialIdGenerator
from adapters.system.clock import SystemClock
from adapters.system.uuid7 import Uuid7Generator


def test_uuid7_ids_are_version_7_and_strictly_increasing() -> None:
    generator = Uuid7Generator()
    ids = [generator.new_id() for _ in range(5000)]
    assert all(i.version == 7 for i in ids)
    assert all(i.variant == "specified in RFC 4122" for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_uuid7_carries_the_creation_millisecond() -> None:
    before = int(datetime.now(UTC).timestamp() * 1000)
    value = Uuid7Generator().new_id()
    after = int(datetime.now(UTC).timestamp() * 1000)
    assert before <= value.int >> 80 <= after + 1


def test_system_clock_is_timezone_aware_utc() -> None:
    assert SystemClock().now().tzinfo is UTC


def test_manual_clock_moves_only_forward() -> None:
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    clock.advance(timedelta(minutes=5))
    assert clock.now() == datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(timedelta(seconds=-1))


def test_manual_clock_rejects_a_naive_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test


def test_sequential_ids_count_up() -> None:
    ids = SequentialIdGenerator()
    assert [ids.new_id().int for _ in range(3)] == [1, 2, 3]
