"""When a delivery counts as lost: shared by the delivery job and the sweep."""

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliverySweepPolicy:
    """How long a delivery may stay pending, or claimed, before its run is presumed lost."""

    stale_after: timedelta
