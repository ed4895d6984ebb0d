"""Whose request is it: the client's address behind our own reverse proxies.

The sign-in limits (:mod:`bot.lockout`) and the audit trail count by address. Behind a
proxy every request comes from the proxy, so one guesser would lock out everyone. A
proxy tells us whom it served by appending that address to ``X-Forwarded-For``; anything
further left was written by whoever sent the request and proves nothing. So the client is
the right-most address in the header that is not itself one of our proxies, and the
header counts only when the connection comes from one of them
(``OUTAGE_BOT_TRUSTED_PROXIES``; empty, the default, trusts nobody).

An entry that is not a bare IP address stops the walk: the client is then the last of
our proxies that we reached, the one that handed the junk on. A hostile header can
therefore never pick an address of its sender's choosing, nor fail the request.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address

UNKNOWN = "unknown"
"""The address of a request whose peer the server could not tell (a Unix socket)."""


def trusted_proxies(raw: str) -> tuple[Network, ...]:
    """The networks in a comma-separated list of IP addresses and CIDR blocks.

    Raises:
        ValueError: an entry is neither; the message names it.
    """
    networks = []
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        try:
            networks.append(ip_network(entry))
        except ValueError:
            raise ValueError(
                f"{entry!r} is not an IP address or a network such as 10.0.0.0/8"
            ) from None
    return tuple(networks)


def _parsed(text: str) -> Address | None:
    try:
        address = ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket's view of an IPv4 client
    return address


def _trusted(address: Address, proxies: tuple[Network, ...]) -> bool:
    return any(address in network for network in proxies)


def client_address(
    peer: str | None, forwarded_for: Iterable[str], proxies: tuple[Network, ...]
) -> str:
    """The address to count a request against.

    Args:
        peer: the TCP peer's address, as the server saw it (``None`` if it has none).
        forwarded_for: every ``X-Forwarded-For`` header of the request, in order.
        proxies: the networks of our own reverse proxies.

    Returns:
        The client's address in its canonical spelling, so one address is one bucket.
    """
    nearest = _parsed(peer) if peer else None
    if nearest is None:
        return peer or UNKNOWN
    if not _trusted(nearest, proxies):
        return str(nearest)
    hops = [entry for header in forwarded_for for entry in header.split(",")]
    for entry in reversed(hops):
        hop = _parsed(entry)
        if hop is None:
            break
        nearest = hop
        if not _trusted(hop, proxies):
            break
    return str(nearest)
