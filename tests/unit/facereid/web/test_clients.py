"""Client addresses: only validated IPs become identities; IPv6 is budgeted by /64."""

from __future__ import annotations

import pytest

from facereid.web.clients import client_address, parse_ip, parse_networks

TRUSTED = parse_networks("127.0.0.1, 10.0.0.0/8")


def _scope(peer: str, forwarded: str | None) -> dict[str, object]:
    headers = [] if forwarded is None else [(b"x-forwarded-for", forwarded.encode())]
    return {"type": "http", "client": (peer, 1234), "headers": headers}


@pytest.mark.parametrize(
    "forwarded",
    ["garbage-1", "garbage-2", "garbage-3, 10.1.1.1", "1.2.3.4, not-an-ip", "", "::::"],
)
def test_non_ip_entries_never_become_identities(forwarded: str) -> None:
    """Before: each garbage-N was a fresh budget. Now the walk stops at the first entry that
    is not an IP and keeps the last address a trusted proxy vouched for."""
    address = client_address(_scope("127.0.0.1", forwarded), TRUSTED)
    assert address in {"127.0.0.1", "10.1.1.1"}


def test_the_rightmost_untrusted_ip_is_the_client() -> None:
    forged = "6.6.6.6, 198.51.100.7, 10.1.2.3"
    assert client_address(_scope("127.0.0.1", forged), TRUSTED) == "198.51.100.7"
    assert client_address(_scope("203.0.113.9", "1.2.3.4"), TRUSTED) == "203.0.113.9"
    assert client_address(_scope("127.0.0.1", "1.2.3.4"), []) == "127.0.0.1"


def test_ipv6_clients_are_identified_by_their_64() -> None:
    first = client_address(_scope("2001:db8:1:2::1", None), [])
    second = client_address(_scope("2001:db8:1:2:ffff::9", None), [])
    other = client_address(_scope("2001:db8:1:3::1", None), [])
    assert first == second == "2001:db8:1:2::/64"
    assert other != first
    via_proxy = client_address(_scope("10.0.0.5", "2001:db8:1:2::77"), TRUSTED)
    assert via_proxy == first


def test_ip_forms_that_proxies_write() -> None:
    assert str(parse_ip("1.2.3.4:5678")) == "1.2.3.4"
    assert str(parse_ip("[2001:db8::1]:443")) == "2001:db8::1"
    assert str(parse_ip("::ffff:192.0.2.1")) == "192.0.2.1"  # IPv4-mapped: the IPv4 client
    assert parse_ip("garbage") is None
    assert parse_ip("1.2.3.4.5") is None


def test_a_non_ip_peer_is_kept_bounded() -> None:
    assert client_address(_scope("testclient", "1.2.3.4"), TRUSTED) == "testclient"
    assert len(client_address(_scope("x" * 500, None), TRUSTED)) == 64
