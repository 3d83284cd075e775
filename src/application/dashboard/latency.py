"""Latency as a histogram any number of processes add to: fixed buckets, merged by summing.

Bucket `i` holds the requests that took at most `upper_bound_ms(i)`: a sixteenth of a
millisecond times 2 to the `i`/4, so each bound is about 19% above the one before, from
1/16 ms up to about 65 s in `BUCKETS` buckets (the last one holds everything slower). A
percentile read from merged buckets is the upper bound of the bucket it falls in: never
below the true value, and at most 19% above it.
"""

import math
from collections.abc import Mapping

_SMALLEST_MS = 2.0**-4
_STEPS_PER_DOUBLING = 4
BUCKETS = 81


def bucket_of(seconds: float) -> int:
    """The bucket of a request that took `seconds`."""
    milliseconds = seconds * 1000
    if milliseconds <= _SMALLEST_MS:
        return 0
    steps = math.log2(milliseconds / _SMALLEST_MS) * _STEPS_PER_DOUBLING
    return min(math.ceil(steps - 1e-9), BUCKETS - 1)


def upper_bound_ms(bucket: int) -> float:
    """The slowest request bucket `bucket` holds, in milliseconds."""
    return _SMALLEST_MS * 2 ** (bucket / _STEPS_PER_DOUBLING)


def percentile_ms(histogram: Mapping[int, int], fraction: float) -> float | None:
    """The latency `fraction` (0.5, 0.99) of the requests stayed within; None for none."""
    total = sum(histogram.values())
    if total <= 0:
        return None
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return upper_bound_ms(bucket)
    return upper_bound_ms(max(histogram))


def merged(*histograms: Mapping[int, int]) -> dict[int, int]:
    """The histograms added bucket by bucket."""
    total: dict[int, int] = {}
    for histogram in histograms:
        for bucket, count in histogram.items():
            total[bucket] = total.get(bucket, 0) + count
    return total
