"""The admin contract is typed: a field or an event kind the service does not have fails mypy in the TUI and the CLI."""

from __future__ import annotations

import inspect
import textwrap
from pathlib import Path
from typing import get_type_hints

import aiohttp
import pytest
from mypy import api

from appliance.contract import errors as contract_errors
from appliance.contract import shapes
from appliance.contract.client import AdminClient
from appliance.contract.events import EVENT_KINDS
from appliance.contract.shapes import Station
from services.core import errors as service_errors
from services.root.service import StationmasterService
from tests.imagefactory import build_image
from tests.stationkit import accepted, check_in

MAC = "24:0A:C4:00:00:01"

ROOT = Path(__file__).resolve().parent.parent


def mypy_errors(*arguments: str, cache: Path) -> list[str]:
    """The error lines of mypy (strict, the project's settings) over `arguments`."""
    out, err, _ = api.run(["--cache-dir", str(cache), "--no-error-summary", *arguments])
    assert not err, err
    return [line for line in out.splitlines() if ": error:" in line]


def check_snippet(tmp_path: Path, body: str) -> list[str]:
    """mypy's errors in a small client of the contract."""
    snippet = tmp_path / "snippet.py"
    snippet.write_text(textwrap.dedent(body))
    return mypy_errors("--strict", str(snippet), cache=tmp_path / "cache")


GOOD = """
    from appliance.contract.client import AdminClient
    from appliance.contract.events import kinds

    ROUTED = kinds("station_arrived", "rollout_started")

    async def name_of(client: AdminClient, mac: str) -> str:
        return (await client.station(mac))["name"]
"""


@pytest.mark.slow
def test_a_snippet_reading_the_contract_as_it_is_type_checks(tmp_path: Path) -> None:
    assert check_snippet(tmp_path, GOOD) == []


@pytest.mark.slow
def test_a_field_the_contract_does_not_have_fails_mypy(tmp_path: Path) -> None:
    found = check_snippet(tmp_path, GOOD.replace('["name"]', '["nmae"]'))
    assert any('TypedDict "Station" has no key "nmae"' in line for line in found), found


@pytest.mark.slow
def test_an_event_kind_the_service_does_not_log_fails_mypy(tmp_path: Path) -> None:
    found = check_snippet(tmp_path, GOOD.replace('"station_arrived"', '"station_arived"'))
    assert len(found) == 1
    assert "'station_arived'" in found[0]


@pytest.mark.slow
def test_renaming_a_field_of_the_contract_fails_mypy_in_the_tui_and_the_cli(tmp_path: Path) -> None:
    # The contract as it would be with Station.name renamed, checked in place of the real one.
    shapes = ROOT / "appliance" / "contract" / "shapes.py"
    renamed = tmp_path / "shapes.py"
    assert "    name: str\n" in inspect.getsource(Station)
    renamed.write_text(shapes.read_text().replace("    name: str\n", "    label: str\n", 1))
    found = mypy_errors("--shadow-file", str(shapes), str(renamed), "appliance", "tui", cache=tmp_path / "cache")
    assert any(line.startswith("tui/") and '"name"' in line for line in found), found
    assert any(line.startswith("appliance/cli/") and '"name"' in line for line in found), found


def test_the_contract_has_an_exception_for_every_error_of_the_service() -> None:
    ours = {
        kind.code: kind
        for kind in vars(service_errors).values()
        if inspect.isclass(kind) and issubclass(kind, service_errors.StationmasterError)
    }
    theirs = {
        kind.code_of_class: kind
        for kind in vars(contract_errors).values()
        if inspect.isclass(kind) and issubclass(kind, contract_errors.AdminError)
    }
    # The service's root is the contract's AdminError; the contract adds the one error no service can send,
    # and those of the backup and the feed (their own modules' refusals, as the admin meets them).
    assert set(ours) - {"error"} == set(theirs) - {"error", "unavailable", "invalid_backup", "feed_refused"}
    for code, error in ours.items():
        parent = next((base for base in ours.values() if base is error.__mro__[1]), None)
        if parent is not None and parent is not service_errors.StationmasterError:
            assert issubclass(theirs[code], theirs[parent.code]), code
    for code, refused in theirs.items():
        expected = refused if code != "unavailable" else contract_errors.AdminError
        assert type(contract_errors.refusal(code, "m", 400)) is expected


def keys_of(shape: type) -> set[str]:
    """Every key a TypedDict declares, required or not."""
    return set(get_type_hints(shape))


async def test_the_service_answers_exactly_the_contracts_shapes(
    service: StationmasterService, http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    token = await accepted(http, admin, MAC)
    for _ in range(3):  # a weak signal three times running raises an alert
        await check_in(http, MAC, token, rssi=-90)
    image = await admin.import_image(build_image("esp32", project="weather", version="2.0.0"), "w.bin")
    assignment = await admin.assign(image["sha256"], station=MAC)
    command = await admin.send_command(MAC, "reboot")
    [station] = await admin.stations()
    [alert] = await admin.alerts()
    events = await admin.events(limit=5)
    assert set(station) == keys_of(shapes.Station)
    assert set(await admin.station(MAC)) == keys_of(shapes.Station)
    assert set(image) == set(await admin.image(image["sha256"])) == keys_of(shapes.Image)
    assert set(assignment) == keys_of(shapes.Assignment)
    assert set(command) == set(await admin.command(command["id"])) == keys_of(shapes.Command)
    assert set(alert) == keys_of(shapes.Alert)
    assert events
    assert all(set(event) == keys_of(shapes.Event) for event in events)
    status = await admin.status()
    assert set(status) == keys_of(shapes.Status)
    assert set(status["clock"]) == keys_of(shapes.Clock)
    assert {event["kind"] for event in events} <= EVENT_KINDS


async def test_the_histories_and_the_site_wifi_answer_the_contracts_shapes(
    service: StationmasterService, http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    token = await accepted(http, admin, MAC, uptime_s=5000)
    await check_in(http, MAC, token, uptime_s=3, restart_cause="Software/System restart")
    [*kept] = await admin.checkins(MAC)
    [restart] = await admin.restarts(MAC)
    assert kept
    assert all(set(row) == keys_of(shapes.Checkin) for row in kept)
    assert set(restart) == keys_of(shapes.Restart)
    added = await admin.add_wifi("site", "a passphrase")
    await admin.add_wifi("spare", "another passphrase")
    assert set(added) == keys_of(shapes.WifiNetwork)
    assert all(set(network) == keys_of(shapes.WifiNetwork) for network in await admin.wifi_networks())
    removed = await admin.remove_wifi("spare", override=True)
    assert set(removed) == keys_of(shapes.WifiRemoved)


async def test_a_rollout_answers_the_contracts_shapes(
    service: StationmasterService, http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    await accepted(http, admin, MAC)
    image = await admin.import_image(build_image("esp32", project="weather", version="2.0.0"), "w.bin")
    plan = await admin.plan_rollout(image["sha256"])
    assert set(plan) == keys_of(shapes.RolloutPlan)
    assert set(plan["settings"]) == keys_of(shapes.RolloutSettings)
    assert all(set(wave) == keys_of(shapes.PlannedWave) for wave in plan["waves"])
    started = await admin.start_rollout(image["sha256"])
    assert set(started) == set(await admin.rollout(started["id"])) == keys_of(shapes.Rollout)
    assert set(started["image"]) == keys_of(shapes.RolloutImage)
    assert all(set(wave) == keys_of(shapes.RolloutWave) for wave in started["waves"])
    [station] = started["stations"]
    assert set(station) == keys_of(shapes.RolloutStation)
    [listed] = await admin.rollouts()
    assert set(listed) == keys_of(shapes.RolloutSummary)
