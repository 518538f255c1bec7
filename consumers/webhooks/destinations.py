"""Where a webhook may send: receivers on public addresses, and those the operator allow-listed.

A webhook URL is chosen by whoever sets it up, so without a check the hub could be made to POST
to itself, to a database on its private network or to a cloud metadata service
(169.254.169.254), and to show part of the answer in `sitn status`. `Destinations` refuses every
address that is loopback, link-local (169.254.0.0/16, fe80::/10), private (10/8, 172.16/12,
192.168/16, fc00::/7), unspecified, multicast, otherwise not publicly routable (shared, reserved,
documentation ranges), or one of the hub machine's own addresses (an address a socket can be
bound to here). An IPv4 address written as IPv6 (``::ffff:10.0.0.1``) is judged as the IPv4
address it is.

The operator lets chosen receivers through with SITN_WEBHOOK_ALLOW (`hub.settings`): an address
or network lets through the addresses in it; a host name lets through that name, whatever it
resolves to.

Guarantees:
- `screen(host, port)` resolves `host` (an address literal is taken as it is) and returns its
  addresses only if every one of them may be reached; otherwise it raises `DestinationRefused`
  naming the host, the address and how to allow-list it. A name some of whose addresses are
  refused is refused as a whole.
- `CheckedResolver` is the HTTP client's resolver for deliveries: the client connects to the
  very addresses `screen` checked, so a name that changes between check and connection (DNS
  rebinding) cannot reach a refused address. Address literals never reach a resolver: the
  dispatcher screens them itself before each attempt.
- Name resolution blocks, so async callers run `screen` in a worker thread (`CheckedResolver`
  does); nothing here runs at import time.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeAlias
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult

from hub.settings import WEBHOOK_ALLOW_VARIABLE, AllowEntry

Address: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
# Name resolution: the addresses a host name stands for (raises OSError if it has none).
Lookup: TypeAlias = Callable[[str, int], list[Address]]


class DestinationRefused(OSError):
    """A receiver address the hub does not connect to.

    An OSError, so that the HTTP client reports it as the cause of the connection error.
    """


def system_lookup(host: str, port: int) -> list[Address]:
    """The addresses of `host` from the system's resolver (blocks: call it in a worker thread)."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[Address] = []
    for _family, _type, _proto, _name, sockaddr in found:
        # A scoped IPv6 address ("fe80::1%eth0") is link-local anyway: judged without its scope.
        address = ipaddress.ip_address(str(sockaddr[0]).partition("%")[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def literal_address(host: str) -> Address | None:
    """`host` as an IP address if it is one (brackets of an IPv6 URL host allowed), else None."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        return None


def _is_own(address: Address) -> bool:
    """Whether `address` belongs to this machine: only then can a socket be bound to it."""
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((str(address), 0))
    except OSError:
        return False
    return True


# IPv6 ranges that carry an IPv4 address a gateway may forward to: NAT64 (the well-known and
# the local-use prefixes) and the deprecated IPv4-compatible form; 6to4 is unwrapped apart.
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for or may be translated to, if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _IPV4_COMPATIBLE or any(address in network for network in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def host_and_port(url: str) -> tuple[str, int]:
    """The host a webhook URL names and the port it reaches (its scheme's when not given)."""
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def why_refused(address: Address) -> str | None:
    """What kind of address the hub never sends to unless allow-listed, or None if it may."""
    if isinstance(address, ipaddress.IPv6Address) and not (
        address.is_loopback or address.is_unspecified
    ):
        embedded = _embedded_ipv4(address)
        if embedded is not None and (refused := why_refused(embedded)) is not None:
            return refused  # what a gateway would forward it to
    if address.is_unspecified:
        return "the unspecified address (it reaches this machine)"
    if address.is_loopback:
        return "a loopback address (this machine)"
    if address.is_link_local:
        return "a link-local address (such as a cloud metadata service)"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private network address"
    if not address.is_global:
        return "an address that is not publicly routable (shared, reserved or documentation)"
    if _is_own(address):
        return "an address of the hub's own machine"
    return None


@dataclass(frozen=True)
class Destinations:
    """Which receivers webhooks may reach (see the module docstring); `allow` lets some through."""

    allow: tuple[AllowEntry, ...] = ()
    lookup: Lookup = field(default=system_lookup, repr=False, compare=False)

    @classmethod
    def allowing(
        cls, entries: Iterable[AllowEntry], lookup: Lookup = system_lookup
    ) -> Destinations:
        return cls(tuple(entries), lookup)

    def allowed_host(self, host: str) -> bool:
        name = host.lower().rstrip(".")
        return any(isinstance(entry, str) and entry == name for entry in self.allow)

    def allowed_address(self, address: Address) -> bool:
        candidates = [address]
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)
        return any(
            not isinstance(entry, str) and candidate in entry
            for entry in self.allow
            for candidate in candidates
        )

    def screen(self, host: str, port: int) -> list[Address]:
        """The addresses of `host` to connect to; `DestinationRefused` if any must not be reached.

        Raises OSError (socket.gaierror) if the name does not resolve. Blocks on name resolution.
        """
        literal = literal_address(host)
        addresses = [literal] if literal is not None else self.lookup(host.rstrip("."), port)
        if literal is None and self.allowed_host(host):
            return addresses
        for address in addresses:
            reason = why_refused(address)
            if reason is not None and not self.allowed_address(address):
                resolved = "is" if literal is not None else f"resolves to {address},"
                raise DestinationRefused(
                    f"the host {host} {resolved} {reason}: the hub sends webhooks only to public "
                    f"addresses. If this receiver is meant, add {address}"
                    + ("" if literal is not None else f" (or the host name {host})")
                    + f" to {WEBHOOK_ALLOW_VARIABLE}, a comma-separated list of addresses, "
                    "networks such as 10.20.0.0/16, and host names"
                )
        if not addresses:
            raise DestinationRefused(f"the host {host} resolves to no address")
        return addresses


class CheckedResolver(AbstractResolver):
    """The HTTP client's resolver: only addresses `Destinations.screen` let through."""

    def __init__(self, destinations: Destinations) -> None:
        self.destinations = destinations

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await asyncio.to_thread(self.destinations.screen, host, port)
        wanted = [a for a in addresses if family == socket.AF_UNSPEC or _family(a) == family]
        return [
            ResolveResult(
                hostname=host,
                host=str(address),
                port=port,
                family=_family(address),
                proto=socket.IPPROTO_TCP,
                flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            )
            for address in wanted
        ]

    async def close(self) -> None:
        return None


def _family(address: Address) -> socket.AddressFamily:
    return socket.AF_INET6 if address.version == 6 else socket.AF_INET
