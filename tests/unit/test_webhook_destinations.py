"""Which receivers webhooks may reach: public addresses, and those the operator allow-listed.

Addresses are judged as written (no lookup) and names through the system's resolver where it can
answer (``localhost``); a name whose addresses the test must choose is resolved by a table given
to `Destinations`, as the system's resolver would answer.
"""

from __future__ import annotations

import ipaddress

import pytest

from consumers.webhooks import DestinationRefused, Destinations
from consumers.webhooks.destinations import Address, _is_own, why_refused
from hub.settings import WEBHOOK_ALLOW_VARIABLE, parse_webhook_allow


def resolving(table: dict[str, list[str]]) -> Destinations:
    def lookup(host: str, _port: int) -> list[Address]:
        return [ipaddress.ip_address(a) for a in table[host]]

    return Destinations(lookup=lookup)


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("169.254.169.254", "link-local"),
        ("::1", "loopback"),
        ("[::1]", "loopback"),
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.254", "private"),
        ("192.168.1.20", "private"),
        ("fc00::5", "private"),
        ("fd12:3456::1", "private"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - a destination, not a bind
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        ("2002:a00:1::1", "private"),  # 6to4 of 10.0.0.1
        ("::a00:1", "private"),  # IPv4-compatible 10.0.0.1
        ("100.64.0.1", "not publicly routable"),
    ],
)
def test_an_address_webhooks_must_not_reach_is_refused_saying_what_it_is_and_how_to_allow_it(
    host: str, kind: str
) -> None:
    with pytest.raises(DestinationRefused) as refused:
        Destinations().screen(host, 80)

    message = str(refused.value)
    assert kind in message
    assert f"add {ipaddress.ip_address(host.strip('[]'))}" in message
    assert WEBHOOK_ALLOW_VARIABLE in message


def test_a_name_that_resolves_to_the_loopback_is_refused_naming_the_address_it_resolved_to() -> (
    None
):
    with pytest.raises(DestinationRefused) as refused:
        Destinations().screen("localhost", 8080)

    message = str(refused.value)
    assert "the host localhost resolves to 127.0.0.1," in message or "resolves to ::1," in message
    assert "loopback" in message
    assert "(or the host name localhost)" in message


def test_a_name_with_one_private_address_among_public_ones_is_refused_as_a_whole() -> None:
    destinations = resolving({"hooks.tourisme.example": ["8.8.8.8", "10.0.0.7"]})

    with pytest.raises(DestinationRefused, match=r"resolves to 10\.0\.0\.7, a private"):
        destinations.screen("hooks.tourisme.example", 443)


def test_a_public_address_and_a_name_resolving_only_to_public_ones_are_let_through() -> None:
    destinations = resolving({"hooks.tourisme.example": ["8.8.8.8", "2001:4860:4860::8888"]})

    assert Destinations().screen("8.8.4.4", 443) == [ipaddress.ip_address("8.8.4.4")]
    assert destinations.screen("hooks.tourisme.example.", 443) == [
        ipaddress.ip_address("8.8.8.8"),
        ipaddress.ip_address("2001:4860:4860::8888"),
    ]


def test_an_address_a_socket_can_be_bound_to_here_is_the_hubs_own() -> None:
    # Public addresses of this machine are what the check is for; a test machine has none, so
    # the probe is tried on its loopback (bindable) and on a documentation address (not).
    assert _is_own(ipaddress.ip_address("127.0.0.1"))
    assert not _is_own(ipaddress.ip_address("192.0.2.1"))
    assert why_refused(ipaddress.ip_address("8.8.8.8")) is None


def test_a_nat64_address_of_a_public_one_is_let_through() -> None:
    assert why_refused(ipaddress.ip_address("64:ff9b::808:808")) is None


def test_an_allow_listed_network_lets_its_addresses_through_and_no_other() -> None:
    allowing = Destinations.allowing(parse_webhook_allow("127.0.0.1, 10.20.0.0/16, [::1]"))

    assert allowing.screen("127.0.0.1", 80) == [ipaddress.ip_address("127.0.0.1")]
    assert allowing.screen("10.20.3.4", 80) == [ipaddress.ip_address("10.20.3.4")]
    assert allowing.screen("::1", 80) == [ipaddress.ip_address("::1")]
    assert allowing.screen("::ffff:127.0.0.1", 80) == [ipaddress.ip_address("::ffff:127.0.0.1")]
    for refused in ("127.0.0.2", "10.21.0.1", "169.254.169.254"):
        with pytest.raises(DestinationRefused):
            allowing.screen(refused, 80)


def test_an_allow_listed_host_name_is_let_through_whatever_it_resolves_to() -> None:
    allowing = Destinations.allowing(parse_webhook_allow("LocalHost."))

    assert allowing.screen("localhost", 8080)
    with pytest.raises(DestinationRefused):
        allowing.screen("127.0.0.1", 8080)
