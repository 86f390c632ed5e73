"""Client networks: what the throttles count by, so one client cannot pass for many.

An IPv4 client is its address; an IPv6 client is its /64, because one subscriber or host gets a
whole /64 and picks a fresh address in it at will (RFC 4941). An IPv4-mapped IPv6 address is its
IPv4 address.
"""

from __future__ import annotations

from ipaddress import IPv6Address, ip_address, ip_network

IPV6_PREFIX = 64


def network_of(address: str) -> str:
    """The throttles' key for a client address; an unparsable one is its own key."""
    try:
        parsed = ip_address(address.split("%", 1)[0])
    except ValueError:
        return address[:64]
    if isinstance(parsed, IPv6Address):
        if parsed.ipv4_mapped is not None:
            return f"{parsed.ipv4_mapped}/32"
        return str(ip_network(f"{parsed}/{IPV6_PREFIX}", strict=False))
    return f"{parsed}/32"


def target_of(email_key: str) -> str:
    """The inbox an address reaches, for the per-target limit: `ada+1@x` and `ada+2@x` are the
    same inbox (subaddressing, RFC 5233), so a flood through plus-tags counts once."""
    local, _, domain = email_key.rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}"
