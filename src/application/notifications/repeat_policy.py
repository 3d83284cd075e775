"""How often one actor may cause the same kind of notification to the same recipient."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType

from domain.notifications.notification import NotificationKind


@dataclass(frozen=True, slots=True, kw_only=True)
class RepeatPolicy:
    """Per kind, a quiet period in which one actor does not notify one recipient again.

    So a follow/unfollow loop tells the followee once per period. Kinds not listed (and a
    zero period) are never held back. The check is a query on the stored notifications,
    so it holds whether or not Redis is up.
    """

    quiet_periods: Mapping[NotificationKind, timedelta] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def quiet_period(self, kind: NotificationKind) -> timedelta | None:
        """The kind's quiet period, or None when repeats are never held back."""
        period = self.quiet_periods.get(kind)
        return period or None
