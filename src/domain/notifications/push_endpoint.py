"""Where a push endpoint may point: a named push service on a public address.

An endpoint is a URL a user hands us and the worker later posts to, so it is a request
the server makes on a stranger's behalf (SSRF). Three rules keep it outside:
- the host is a name, never an IP literal in any of the forms URL parsers accept;
- the name is on the operator's allowlist of push services;
- every address the name resolves to is public (`is_public_address`).
"""

import ipaddress
import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from domain.shared.errors import DomainError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_ADDRESSES: Final = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean instance metadata
        "169.254.170.2",  # AWS ECS task metadata and credentials
        "fd00:ec2::254",  # AWS instance metadata over IPv6
        "100.100.100.200",  # Alibaba Cloud metadata
        "168.63.129.16",  # Azure WireServer: a public-looking address that is internal
        "192.0.0.192",  # Oracle Cloud metadata
    )
)
"""Cloud metadata services: credentials one request away. Most also fall in a range below."""

_NON_PUBLIC_NETWORKS: Final = tuple(
    ipaddress.ip_network(network)
    for network in (
        "100.64.0.0/10",  # carrier-grade NAT (RFC 6598)
        "192.0.0.0/24",  # IETF protocol assignments (RFC 6890)
    )
)
_NAT64: Final = ipaddress.ip_network("64:ff9b::/96")

_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_NUMBER = re.compile(r"^(?:[0-9]+|0x[0-9a-f]*)$")
_HOST_MAX = 253


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries and may be routed to, if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return None


def is_public_address(address: IPAddress) -> bool:
    """Whether a push may be sent to `address`: a global unicast host, and no metadata service.

    Refused: private, loopback, link-local, reserved, multicast, unspecified, carrier-grade
    NAT (100.64/10), IETF-assigned (192.0.0/24) and the METADATA_ADDRESSES. An IPv6 address
    that carries an IPv4 one (IPv4-mapped, 6to4, NAT64) is judged by the IPv4 address.
    """
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return is_public_address(embedded)
    return not (
        not address.is_global
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
        or address in METADATA_ADDRESSES
        or any(address in network for network in _NON_PUBLIC_NETWORKS)
    )


def _is_ip_literal(host: str) -> bool:
    """An IPv6 literal, or a host URL parsers read as IPv4 (its last label is a number).

    The WHATWG URL standard treats a host ending in a decimal or 0x-hex label as IPv4, so
    `2852039166`, `0xa9fea9fe`, `0251.0376.0251.0376` and `169.254.43518` all name
    169.254.169.254; no top-level domain is numeric, so no real name is caught.
    """
    return ":" in host or bool(_NUMBER.match(host.rsplit(".", 1)[-1]))


def push_service_host(endpoint: str) -> str:
    """The host an endpoint names, lowercased and without a final dot.

    Raises DomainError (field ``endpoint``) when the host is an IP literal, when the URL
    carries credentials or a backslash (parsers disagree on where such a host ends), or
    when the host is not a DNS name.
    """
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname or ""
    except ValueError:
        raise DomainError("must be an https URL", field="endpoint") from None
    if "\\" in endpoint:
        raise DomainError("must not contain a backslash", field="endpoint")
    if "@" in parts.netloc:
        raise DomainError("must not carry a user name or password", field="endpoint")
    host = host.removesuffix(".")
    if _is_ip_literal(host):
        raise DomainError("must name the push service's host, not an IP address", field="endpoint")
    labels = host.split(".")
    if len(host) > _HOST_MAX or not all(_LABEL.match(label) for label in labels):
        raise DomainError("must name a valid host", field="endpoint")
    return host


@dataclass(frozen=True, slots=True)
class PushServiceAllowlist:
    """The hosts of the push services endpoints may point at.

    A pattern is a host (`fcm.googleapis.com`), matched exactly, or `*.` and a domain
    (`*.push.apple.com`), matched by any name below that domain but not by the domain itself.
    A wildcard's domain has at least two labels: `*.com` would admit nearly anything.
    """

    patterns: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> "PushServiceAllowlist":
        """Comma-separated patterns, case-insensitive; ValueError naming a malformed one."""
        patterns = tuple(item.strip().lower() for item in text.split(",") if item.strip())
        for pattern in patterns:
            name = pattern.removeprefix("*.")
            labels = name.split(".")
            valid = (
                (name == pattern or len(labels) > 1)
                and all(_LABEL.match(label) for label in labels)
                and not _is_ip_literal(name)
            )
            if not valid:
                raise ValueError(
                    f"{pattern!r} is not a host name or `*.` and a domain, such as "
                    "`fcm.googleapis.com` or `*.push.apple.com`"
                )
        return cls(patterns)

    def allows(self, host: str) -> bool:
        """Whether `host` (lowercase, as `push_service_host` gives it) is a listed service."""
        for pattern in self.patterns:
            if pattern.startswith("*."):
                if host.endswith(pattern[1:]):
                    return True
            elif host == pattern:
                return True
        return False
