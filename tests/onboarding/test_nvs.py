"""The station's NVS image, read back by a reader written from the format: exactly the documented keys."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.core.errors import InvalidInput
from services.core.models import SiteNetwork
from services.domain.onboarding.nvs import NAMESPACE, StationSettings, build_nvs_image
from tests.nvsformat import NvsFormatError, read_partition

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "station-contract.md"
NETWORKS = (
    SiteNetwork(1, "AP1", "broome-secret-1", priority=10),
    SiteNetwork(2, "Bret's phone ☂", "", priority=0, hidden=True, fallback=True),
)
SETTINGS = StationSettings(
    name="STA2",
    token="tok-" + "x" * 28,
    host="stationmaster.local",
    address="192.168.1.2",
    port=8080,
    networks=NETWORKS,
)


def documented_keys(networks: int) -> dict[str, str]:
    """The keys docs/station-contract.md lists for the namespace, `N` expanded, with their NVS types."""
    rows = re.findall(r"^\| `([a-zN_]+)` \| (u8|u16|string) \|", CONTRACT.read_text(), re.MULTILINE)
    assert rows, "the contract documents the NVS keys in a table"
    keys: dict[str, str] = {}
    for key, kind in rows:
        for name in [key.replace("N", str(i)) for i in range(networks)] if "N" in key else [key]:
            keys[name] = kind
    return keys


TYPE_CODES = {"u8": 0x01, "u16": 0x02, "string": 0x21}


def test_the_image_holds_exactly_the_documented_keys_with_their_values() -> None:
    image = build_nvs_image(SETTINGS, 0x5000)
    assert len(image) == 0x5000
    namespaces = read_partition(image)
    assert list(namespaces) == [NAMESPACE]
    found = namespaces[NAMESPACE]
    expected = documented_keys(len(NETWORKS))
    assert {key: value.type_code for key, value in found.items()} == {k: TYPE_CODES[t] for k, t in expected.items()}
    values = {key: value.value for key, value in found.items()}
    assert values["format"] == 1
    assert (values["name"], values["token"], values["host"], values["addr"], values["port"]) == (
        "STA2",
        SETTINGS.token,
        "stationmaster.local",
        "192.168.1.2",
        8080,
    )
    assert values["wifi_n"] == 2
    assert (values["wifi0_ssid"], values["wifi0_psk"], values["wifi0_prio"]) == ("AP1", "broome-secret-1", 10)
    assert (values["wifi0_hide"], values["wifi0_fb"]) == (0, 0)
    assert (values["wifi1_ssid"], values["wifi1_psk"]) == ("Bret's phone ☂", "")
    assert (values["wifi1_hide"], values["wifi1_fb"]) == (1, 1)


def test_the_reader_catches_a_flipped_bit_anywhere_it_matters() -> None:
    image = bytearray(build_nvs_image(SETTINGS, 0x3000))
    token_at = bytes(image).index(SETTINGS.token.encode())
    for where in (10, 64 + 5, 64 + 32 * 2 + 12, token_at):  # page header, an entry, a key, a string's bytes
        broken = bytearray(image)
        broken[where] ^= 0x04
        with pytest.raises(NvsFormatError):
            read_partition(bytes(broken))


def test_sixteen_networks_of_the_longest_ssid_and_psk_fit_the_smallest_partition() -> None:
    networks = tuple(SiteNetwork(i, f"net-{i:02d}-" + "s" * 25, "p" * 63, priority=i) for i in range(16))
    settings = StationSettings("STA9", "t" * 32, "stationmaster-2.local", "10.0.0.1", 80, networks)
    found = read_partition(build_nvs_image(settings, 0x3000))[NAMESPACE]
    assert found["wifi_n"].value == 16
    assert [found[f"wifi{i}_ssid"].value for i in range(16)] == [n.ssid for n in networks]
    assert [found[f"wifi{i}_psk"].value for i in range(16)] == ["p" * 63] * 16


def test_settings_that_overflow_the_partition_are_refused() -> None:
    settings = StationSettings("S", "t" * 3000, "h" * 3000, "a" * 3000, 80, ())
    with pytest.raises(InvalidInput, match="do not fit"):
        build_nvs_image(settings, 0x3000)
    assert len(build_nvs_image(settings, 0x4000)) == 0x4000


@pytest.mark.parametrize(
    ("size", "message"), [(0x2000, "at least 0x3000"), (0x5800, "whole number of 4 KiB pages"), (0, "at least")]
)
def test_a_partition_size_no_table_could_have_is_refused(size: int, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        build_nvs_image(SETTINGS, size)


def test_more_networks_than_a_station_can_take_are_refused_without_naming_a_secret() -> None:
    networks = tuple(SiteNetwork(i, f"n{i}", "hunter2-secret") for i in range(17))
    with pytest.raises(InvalidInput, match="at most 16 networks") as refused:
        build_nvs_image(StationSettings("S", "t", "h", "a", 1, networks))
    assert "hunter2" not in str(refused.value)
