"""Who is calling, as far as the network tells: the client address a budget belongs to.

The address is the socket peer, or, when the peer is one of ``TRUSTED_PROXIES``, the right-most
``X-Forwarded-For`` hop that is not a trusted proxy. Every hop must parse as an IP address: a
non-IP entry (``garbage-17``) can only have been written by the client, so the walk stops there
and the budget stays with the last address a trusted proxy vouched for; inventing entries never
mints a fresh budget. An IPv6 client is identified by its /64, the smallest block a site is
usually given: one host can otherwise cycle through 2^64 addresses.
"""

from __future__ import annotations

import ipaddress

from facereid.web.contract import Scope

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

IPV6_PREFIX = 64
MAX_FORWARDED_HOPS = 32  # a longer header is client padding; only the right end matters


def parse_networks(text: str) -> list[Network]:
    return [
        ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()
    ]


def parse_ip(text: str) -> Address | None:
    """An IP address, also in the ``1.2.3.4:port`` and ``[v6]:port`` forms some proxies write;
    IPv4-mapped IPv6 (``::ffff:1.2.3.4``) counts as the IPv4 address."""
    text = text.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, trusted: list[Network]) -> bool:
    return any(address in network for network in trusted)


def forwarded_hops(scope: Scope) -> list[str]:
    hops: list[str] = []
    for name, value in scope.get("headers", []):
        if bytes(name).lower() == b"x-forwarded-for":
            hops += [h.strip() for h in bytes(value).decode("latin-1").split(",") if h.strip()]
    return hops[-MAX_FORWARDED_HOPS:]


def client_ip(scope: Scope, trusted: list[Network]) -> Address | str:
    """The client's validated address; the raw peer text when the peer is not an IP (a unix
    socket, a test client), which comes from the server, not from the client."""
    raw_peer = str((scope.get("client") or ("unknown", 0))[0])
    peer = parse_ip(raw_peer)
    if peer is None:
        return raw_peer[:64]
    if not trusted or not _trusted(peer, trusted):
        return peer
    nearest: Address = peer
    # Right to left: each trusted proxy appended the address it saw.
    for hop in reversed(forwarded_hops(scope)):
        address = parse_ip(hop)
        if address is None:
            return nearest  # forged or broken: keep the last address a proxy vouched for
        if not _trusted(address, trusted):
            return address
        nearest = address
    return nearest


def identity(address: Address | str) -> str:
    """The budget key for an address: IPv4 as is, IPv6 by its /64."""
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{address}/{IPV6_PREFIX}", strict=False))
    return str(address)


def client_address(scope: Scope, trusted: list[Network]) -> str:
    return identity(client_ip(scope, trusted))
