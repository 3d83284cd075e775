"""Device tokens remembered in a dict, for tests of the core."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from application.common.ports.clock import Clock
from application.users.ports import DeviceTrust


@dataclass(frozen=True, slots=True)
class _Issued:
    account: str
    expires_at: datetime


class InMemoryDeviceTrust(DeviceTrust):
    """The `DeviceTrust` port with readable tokens (``device-1``, …) that expire by the clock."""

    def __init__(self, *, clock: Clock, ttl: timedelta) -> None:
        self._clock = clock
        self._ttl = ttl
        self._issued: dict[str, _Issued] = {}

    def issue(self, account: str) -> str:
        """Remember and return the next token."""
        token = f"device-{len(self._issued) + 1}"
        self._issued[token] = _Issued(account, self._clock.now() + self._ttl)
        return token

    def device_of(self, token: str, account: str) -> str | None:
        """The token itself, when this twin issued it for `account` and it has not expired."""
        issued = self._issued.get(token)
        if issued is None or issued.account != account or issued.expires_at <= self._clock.now():
            return None
        return token
