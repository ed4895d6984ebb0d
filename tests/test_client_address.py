"""Which X-Forwarded-For entry names the client, and when the header counts at all."""

from __future__ import annotations

import pytest

from bot.client_address import UNKNOWN, client_address, trusted_proxies

PROXIES = trusted_proxies("10.0.0.0/8, 192.0.2.7, 2001:db8:ff::/48")


def test_an_untrusted_peer_is_the_client_whatever_its_header_says() -> None:
    assert client_address("203.0.113.9", ["198.51.100.1"], PROXIES) == "203.0.113.9"
    assert client_address("203.0.113.9", ["10.0.0.1"], PROXIES) == "203.0.113.9"
    assert client_address("203.0.113.9", ["198.51.100.1"], ()) == "203.0.113.9"


def test_without_trusted_proxies_nobody_is_trusted() -> None:
    assert client_address("10.0.0.1", ["198.51.100.1"], ()) == "10.0.0.1"


def test_behind_a_trusted_proxy_the_client_is_the_entry_it_appended() -> None:
    assert client_address("10.1.2.3", ["198.51.100.1"], PROXIES) == "198.51.100.1"
    assert client_address("192.0.2.7", ["198.51.100.1"], PROXIES) == "198.51.100.1"


def test_entries_the_client_wrote_itself_are_passed_over() -> None:
    chain = ["1.1.1.1, 2.2.2.2, 198.51.100.1"]
    assert client_address("10.1.2.3", chain, PROXIES) == "198.51.100.1"


def test_a_chain_of_trusted_proxies_is_walked_from_the_right() -> None:
    chain = ["1.1.1.1, 198.51.100.1, 10.9.9.9, 192.0.2.7"]
    assert client_address("10.1.2.3", chain, PROXIES) == "198.51.100.1"


def test_several_headers_read_as_one_list_in_order() -> None:
    headers = ["1.1.1.1", "198.51.100.1, 10.9.9.9"]
    assert client_address("10.1.2.3", headers, PROXIES) == "198.51.100.1"


def test_when_every_entry_is_a_proxy_the_left_most_is_the_client() -> None:
    assert client_address("10.1.2.3", ["10.4.4.4, 10.5.5.5"], PROXIES) == "10.4.4.4"


def test_a_trusted_peer_without_the_header_is_the_client() -> None:
    assert client_address("10.1.2.3", [], PROXIES) == "10.1.2.3"


def test_ipv6_peers_entries_and_networks() -> None:
    assert client_address("2001:db8:ff::1", ["2001:DB8:0:0::9"], PROXIES) == "2001:db8::9"
    assert client_address("2001:db8:aa::1", ["198.51.100.1"], PROXIES) == "2001:db8:aa::1"
    assert client_address("::ffff:10.0.0.1", ["198.51.100.1"], PROXIES) == "198.51.100.1"
    assert client_address("::ffff:203.0.113.9", [], PROXIES) == "203.0.113.9"


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "unknown",
        "198.51.100.1:4711",
        "[2001:db8::9]",
        "999.1.1.1",
        "1.1.1.1 2.2.2.2",
        "\x00",
        "x" * 10_000,
        "198.51.100.1;drop table",
    ],
)
def test_junk_stops_the_walk_at_the_proxy_that_passed_it_on(junk: str) -> None:
    assert client_address("10.1.2.3", [junk], PROXIES) == "10.1.2.3"
    assert client_address("10.1.2.3", [f"1.1.1.1, {junk}, 10.9.9.9"], PROXIES) == "10.9.9.9"
    assert client_address("203.0.113.9", [junk], PROXIES) == "203.0.113.9"


def test_entries_right_of_junk_still_count() -> None:
    assert client_address("10.1.2.3", ["junk, 198.51.100.1"], PROXIES) == "198.51.100.1"


def test_a_peer_that_is_no_ip_address_is_kept_as_it_is() -> None:
    assert client_address(None, ["198.51.100.1"], PROXIES) == UNKNOWN
    assert client_address("", [], PROXIES) == UNKNOWN


def test_trusted_proxies_takes_addresses_and_networks_and_names_a_bad_entry() -> None:
    assert [str(n) for n in trusted_proxies(" 10.0.0.0/8 ,,::1 ")] == ["10.0.0.0/8", "::1/128"]
    assert trusted_proxies("") == ()
    for bad, named in [("10.0.0.1/8", "10.0.0.1/8"), ("proxy.local", "proxy.local")]:
        with pytest.raises(ValueError, match=named):
            trusted_proxies(f"192.0.2.1, {bad}")
