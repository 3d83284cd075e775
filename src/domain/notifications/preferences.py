"""Per-user, per-kind choices of channels."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from domain.notifications.notification import SECURITY_KINDS, Channel, NotificationKind
from domain.shared.errors import DomainError

_ALL = frozenset(Channel)
_NOT_SMS = frozenset({Channel.IN_APP, Channel.EMAIL, Channel.PUSH})

DEFAULT_CHANNELS: Mapping[NotificationKind, frozenset[Channel]] = MappingProxyType(
    {
        NotificationKind.NEW_FOLLOWER: _NOT_SMS,
        NotificationKind.NEW_ARTICLE: _NOT_SMS,
        NotificationKind.NEW_COMMENT: _NOT_SMS,
        NotificationKind.ARTICLE_FAVORITED: frozenset({Channel.IN_APP, Channel.PUSH}),
        NotificationKind.NEW_LOGIN: _NOT_SMS,
        NotificationKind.PASSWORD_CHANGED: _ALL,
    }
)
"""What a user gets before choosing: everything in the app and by push; email except for
favorites; SMS only when the password changes (and only to a verified phone)."""


@dataclass(frozen=True, slots=True)
class NotificationPreferences:
    """The channels a user wants for each kind; kinds not chosen fall back to the defaults."""

    chosen: Mapping[NotificationKind, frozenset[Channel]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def channels_for(self, kind: NotificationKind) -> frozenset[Channel]:
        """The channels a notification of this kind goes to."""
        return self.chosen.get(kind, DEFAULT_CHANNELS[kind])

    def as_table(self) -> dict[NotificationKind, dict[Channel, bool]]:
        """Every kind and channel, with whether it is on."""
        return {
            kind: {channel: channel in self.channels_for(kind) for channel in Channel}
            for kind in NotificationKind
        }

    def changed(
        self, changes: Mapping[NotificationKind, Mapping[Channel, bool]]
    ) -> "NotificationPreferences":
        """New preferences with these switches flipped; the others keep their value.

        The email of a security kind cannot be switched off: a stolen account must not be
        able to hide its own takeover from its owner.
        """
        chosen = dict(self.chosen)
        for kind, switches in changes.items():
            channels = set(self.channels_for(kind))
            for channel, enabled in switches.items():
                if enabled:
                    channels.add(channel)
                else:
                    channels.discard(channel)
            if kind in SECURITY_KINDS and Channel.EMAIL not in channels:
                raise DomainError(
                    f"email cannot be turned off for {kind.value}", field="preferences"
                )
            chosen[kind] = frozenset(channels)
        return NotificationPreferences(MappingProxyType(chosen))
