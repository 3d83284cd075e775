"""When a delivery counts as lost: shared by the delivery job and the sweep."""

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliverySweepPolicy:
    """How long a delivery may stay pending, or claimed, before its run is presumed lost.

    A claim older than `stale_after` may be taken by the sweep or by another run, which
    then sends the message. So a run that cannot record its outcome (the database went
    away after the send) may keep trying only while no one else can take its claim: it
    starts its last try before `recording_deadline`, half of `stale_after` after its
    claim. The other half is room for that last try to finish (a connect timeout) and for
    clocks a little apart. Between tries it waits `first_retry_wait`, doubling up to
    `longest_retry_wait`, so it records soon after the database is back.
    """

    stale_after: timedelta
    first_retry_wait: timedelta = timedelta(milliseconds=100)
    longest_retry_wait: timedelta = timedelta(seconds=1)

    def recording_deadline(self, claimed_at: datetime) -> datetime:
        """The last moment a run that claimed its delivery at `claimed_at` may try to record."""
        return claimed_at + self.stale_after / 2
