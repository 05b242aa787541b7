"""Which addresses the appliance may announce, from where its station API's sockets are bound."""

from __future__ import annotations

import pytest

from services.core.interfaces import served, why_unannounced

PRESENT = ["10.0.0.5", "192.168.4.1"]


@pytest.mark.parametrize(
    ("listening", "announced"),
    [
        (["0.0.0.0"], PRESENT),
        (["0.0.0.0", "::"], PRESENT),  # `--http-host ""`: every address, both families
        (["192.168.4.1"], ["192.168.4.1"]),
        (["10.9.9.9"], []),  # not (yet) on an interface mDNS uses
        (["::"], []),
    ],
)
def test_only_addresses_the_station_api_answers_on_are_announced(listening: list[str], announced: list[str]) -> None:
    assert served(listening, PRESENT) == announced


@pytest.mark.parametrize(
    ("listening", "reason"),
    [
        (["0.0.0.0"], None),
        (["10.0.0.5"], None),
        (["127.0.0.1"], "the station API listens on loopback only"),
        (["127.0.0.1", "::1"], "the station API listens on loopback only"),  # `--http-host localhost`
        (["::"], "the station API listens on no IPv4 address"),  # asyncio binds "::" as IPv6 only
        (["fe80::1%eth0"], "the station API listens on no IPv4 address"),
    ],
)
def test_a_listener_no_station_could_reach_is_never_announced(listening: list[str], reason: str | None) -> None:
    assert why_unannounced(listening) == reason
