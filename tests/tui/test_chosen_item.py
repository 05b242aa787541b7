"""In a real terminal (tmux, 80x24): what the admin acts on is what they chose, after reloads and live events.

The TUI runs as `stationmaster` against `stationmaster serve`, both real processes; the test changes the
site behind the TUI's back (imports, renames, new stations, a rollout) through the admin API, as another
admin or the stations themselves would, and reads what each dialog says it acts on.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import aiohttp
import pytest

from appliance.contract.client import AdminClient
from appliance.contract.shapes import Image
from services.simulator.identity import SIM_PROJECT
from tests.conftest import ServeProcess, loose, stationmaster_command
from tests.imagefactory import build_image
from tests.rollouts.conftest import open_tap
from tests.terminal import Terminal

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (.ci/run installs it)")
T = TypeVar("T")


def on_site(serve: ServeProcess, step: Callable[[AdminClient, aiohttp.ClientSession], Awaitable[T]]) -> T:
    """Do something at the site (as the admin API or the stations would) while the TUI looks on."""

    async def run() -> T:
        async with AdminClient(serve.socket) as admin, aiohttp.ClientSession(serve.url) as http:
            return await step(admin, http)

    return asyncio.run(run())


async def check_in(http: aiohttp.ClientSession, mac: str, chip: str = "esp32", version: str = "1.0.0") -> None:
    """One check-in, as a station sends it."""
    body = {"mac": mac, "chip": chip, "project": "weather", "version": version, "rssi": -60, "uptime_s": 100}
    async with http.post("/api/v1/checkin", json=body) as response:
        assert response.status == 200, await response.text()


async def station(admin: AdminClient, http: aiohttp.ClientSession, mac: str, name: str) -> None:
    """An accepted ESP32 station on 1.0.0, named."""
    await check_in(http, mac)
    await admin.accept(mac)
    await admin.rename(mac, name)


async def weather(admin: AdminClient, version: str) -> Image:
    """An ESP32 image of the weather project."""
    return await admin.import_image(build_image("esp32", project="weather", version=version), f"w-{version}.bin")


Start = Callable[[], Terminal]


def flat(screen: str) -> str:
    """The screen's words on one line, without the dialogs' frames: a dialog wraps its sentences at its width."""
    frames = str.maketrans("█▀▄▔▁▊▎", " " * 7)
    return " ".join(screen.translate(frames).split())


@pytest.fixture
def tui(serve_process: ServeProcess) -> Iterator[Start]:
    """The TUI in tmux at 80x24, attached to the service (started once the test has set the site up)."""
    env = {"STATIONMASTER_ADMIN_SOCKET": str(serve_process.socket)}
    terminals: list[Terminal] = []

    def start() -> Terminal:
        terminals.append(Terminal(f"chosen{os.getpid()}", env, stationmaster_command()))
        return terminals[-1]

    yield start
    for terminal in terminals:
        terminal.close()


def test_firmware_acts_on_the_image_chosen_through_an_assign_and_an_import(
    serve_process: ServeProcess, tui: Start
) -> None:
    async def site(admin: AdminClient, http: aiohttp.ClientSession) -> None:
        for version in ("1.0.0", "1.1.0", "1.2.0"):
            await weather(admin, version)
        await station(admin, http, "24:0A:C4:00:00:01", "STA1")

    on_site(serve_process, site)
    terminal = tui()
    terminal.wait_for(lambda s: "online" in s)
    terminal.keys("f")
    terminal.wait_for(lambda s: all(v in s for v in ("1.0.0", "1.1.0", "1.2.0")))
    terminal.keys("Down")
    terminal.keys("g")
    asked = terminal.wait_for(lambda s: "to which station" in s)
    chosen = re.search(r"Assign (weather \S+) \(esp32", asked)
    assert chosen is not None, asked
    terminal.keys("-l", "STA1")
    terminal.keys("Enter")  # the assignment's event makes the library reload
    terminal.wait_for(lambda s: "assigned" in s)
    on_site(serve_process, lambda admin, _: weather(admin, "1.3.0"))  # and an import lands meanwhile
    terminal.wait_for(lambda s: "1.3.0" in s)
    terminal.keys("d")
    prompt = terminal.wait_for(lambda s: "Delete weather" in s)
    assert f"Delete {chosen.group(1)} (esp32" in prompt, "d names the image the cursor was put on"
    terminal.keys("Escape")


def test_the_event_log_keeps_the_chosen_event_as_new_ones_arrive_and_names_stations(
    serve_process: ServeProcess, tui: Start
) -> None:
    macs = [f"24:0A:C4:00:00:0{n}" for n in range(1, 4)]

    async def site(admin: AdminClient, http: aiohttp.ClientSession) -> None:
        for number, mac in enumerate(macs, 1):
            await station(admin, http, mac, f"STA{number}")

    on_site(serve_process, site)
    terminal = tui()
    terminal.wait_for(lambda s: "online" in s)
    terminal.keys("e")
    listed = terminal.wait_for(lambda s: "renamed to STA3" in s)
    assert re.search(r"station_renamed\s+STA3\s", listed), "the Station column names the station, not its MAC"
    terminal.keys("Down", "Down", "Enter")
    opened = terminal.wait_for(lambda s: "Esc or Enter closes" in s)
    chosen = re.search(r"event (\d+),", opened)
    assert chosen is not None, opened
    terminal.keys("Escape")

    async def renames(admin: AdminClient, _: aiohttp.ClientSession) -> None:
        for turn in range(4):
            await admin.rename(macs[turn % 3], f"renamed-{turn}")

    on_site(serve_process, renames)
    terminal.wait_for(lambda s: "renamed-3" in s)
    terminal.keys("Enter")
    again = terminal.wait_for(lambda s: "Esc or Enter closes" in s)
    assert f"event {chosen.group(1)}," in again, "the cursor stayed on the event chosen"
    terminal.keys("Escape")


def test_a_new_rollout_takes_the_cursor_and_cancel_names_it(serve_process: ServeProcess, tui: Start) -> None:
    first, second = "24:0A:C4:00:00:01", "24:0A:C4:00:00:02"

    async def site(admin: AdminClient, http: aiohttp.ClientSession) -> int:
        await station(admin, http, first, "STA1")
        await station(admin, http, second, "STA2")
        await weather(admin, "1.0.0")
        new = await weather(admin, "1.1.0")
        started = await admin.start_rollout(new["sha256"], target={"stations": [first]}, soak_s=3600)
        return int(started["id"])

    running = on_site(serve_process, site)
    terminal = tui()
    terminal.wait_for(lambda s: "online" in s)
    terminal.keys("u")
    terminal.wait_for(lambda s: f"rollout {running}" in s)
    terminal.keys("N")
    terminal.wait_for(lambda s: "Ctrl+R reviews" in s)
    terminal.keys("-l", second)  # the field's "all" is selected: typing replaces it
    terminal.wait_for(lambda s: second in s)
    terminal.keys("Enter")  # Enter moves to the next field: it never starts
    terminal.wait_for(lambda s: "Review shows" in s)
    terminal.keys("C-r")
    terminal.wait_for(lambda s: "1.1.0 to 1 esp32 station(s) in 1 wave(s): 1. First: STA2." in flat(s))
    terminal.keys("Enter")  # on Start, once reviewed
    terminal.wait_for(lambda s: f"rollout {running + 1}  " in s)
    terminal.keys("x")
    prompt = flat(terminal.wait_for(lambda s: re.search(r"Cancel rollout \d+ \(", s) is not None))
    assert f"Cancel rollout {running + 1} (weather 1.1.0 for esp32)?" in prompt, "x acts on the new rollout"
    terminal.keys("y")
    terminal.wait_for(lambda s: "cancelled" in s)

    async def states(admin: AdminClient, _: aiohttp.ClientSession) -> list[str]:
        return [r["state"] for r in await admin.rollouts()]

    assert on_site(serve_process, states) == ["cancelled", "running"]


def test_a_key_pressed_again_while_its_dialog_is_open_does_not_stack_another(
    serve_process: ServeProcess, tui: Start
) -> None:
    on_site(serve_process, lambda admin, http: station(admin, http, "24:0A:C4:00:00:01", "STA1"))
    terminal = tui()
    terminal.wait_for(lambda s: "online" in s)
    terminal.keys("Enter")
    terminal.wait_for(lambda s: "Reboot" in s and s.startswith("STA1"))
    terminal.keys("b", "b", "b", "b")  # a laggy link delivers a burst
    terminal.wait_for(lambda s: "Reboot STA1 (24:0A:C4:00:00:01)?" in s)
    terminal.keys("Escape")
    # Were a second prompt stacked under the first, it would show now: the screen must lose every prompt.
    terminal.wait_for(lambda s: "Reboot (y)" not in s)
    terminal.keys("r")  # and the next key goes to the station's screen
    terminal.wait_for(lambda s: "New name for STA1" in s)
    terminal.keys("Escape")

    async def commands(admin: AdminClient, _: aiohttp.ClientSession) -> list[dict[str, Any]]:
        return [loose(command) for command in await admin.commands()]

    assert on_site(serve_process, commands) == [], "no reboot was queued"


def test_the_station_list_keeps_the_chosen_station_as_others_arrive(serve_process: ServeProcess, tui: Start) -> None:
    async def site(admin: AdminClient, http: aiohttp.ClientSession) -> None:
        for name, mac in (
            ("bravo", "24:0A:C4:00:00:02"),
            ("delta", "24:0A:C4:00:00:04"),
            ("foxtrot", "24:0A:C4:00:00:06"),
        ):
            await station(admin, http, mac, name)

    on_site(serve_process, site)
    terminal = tui()
    terminal.wait_for(lambda s: "3 online" in s)
    terminal.keys("Down", "Enter")
    chosen = terminal.wait_for(lambda s: "Reboot" in s and "fetching" not in s).split()[0]
    terminal.keys("Escape")

    async def arrivals(admin: AdminClient, http: aiohttp.ClientSession) -> None:
        for name, mac in (("alpha", "24:0A:C4:00:00:01"), ("charlie", "24:0A:C4:00:00:03")):
            await station(admin, http, mac, name)  # sorted by name, both go above the cursor

    on_site(serve_process, arrivals)
    terminal.wait_for(lambda s: "alpha" in s and "charlie" in s and "5 online" in s)
    terminal.keys("Enter")
    assert terminal.wait_for(lambda s: "Reboot" in s and "fetching" not in s).split()[0] == chosen == "delta"


def test_claiming_two_pending_stations_whose_macs_end_alike_gives_two_names(
    serve_process: ServeProcess, tui: Start
) -> None:
    twins = ("24:0A:C4:00:00:01", "34:85:18:00:00:01")

    async def site(_: AdminClient, http: aiohttp.ClientSession) -> None:
        for mac in twins:
            await check_in(http, mac)

    on_site(serve_process, site)
    terminal = tui()
    terminal.wait_for(lambda s: "2 pending" in s)
    terminal.keys("n")
    shown = terminal.wait_for(lambda s: "esp-000001" in s and "esp-348518000001" in s)
    assert shown.count("esp-000001 ") == 1
    terminal.keys("Tab", "Tab", "Tab")  # to the claim road's list
    terminal.keys("a")
    terminal.wait_for(lambda s: "1 pending" in s)
    terminal.keys("a")
    terminal.wait_for(lambda s: "2 online" in s)

    async def names(admin: AdminClient, _: aiohttp.ClientSession) -> dict[str, tuple[str, str]]:
        return {s["mac"]: (s["name"], s["status"]) for s in await admin.stations()}

    assert on_site(serve_process, names) == {
        twins[0]: ("esp-000001", "accepted"),
        twins[1]: ("esp-348518000001", "accepted"),
    }


def test_cancelling_a_rollout_leaves_the_soaking_station_on_the_new_version(
    serve_process: ServeProcess, tui: Start
) -> None:
    # Two simulated stations (an ESP8266 and an ESP32) polling twice a second; the ESP32 one is rolled to
    # 2.0.0 with a long soak, while its tag's assignment still names 1.0.0, which it ran before.
    fleet: list[subprocess.Popen[bytes]] = []

    async def site(admin: AdminClient, _: aiohttp.ClientSession) -> tuple[str, int]:
        async with open_tap(admin) as tap:
            fleet.append(
                subprocess.Popen(  # noqa: ASYNC220 (started once; the test awaits the event stream, not it)
                    stationmaster_command("simulate", "--count", "2", "--url", serve_process.url, "--interval", "0.5"),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            await tap.wait_for(lambda _: len(tap.of("station_discovered")) == 2)
            mac = next(s["mac"] for s in await admin.stations() if s["chip"] == "esp32")
            await admin.accept(mac)
            await admin.tag(mac, add=["garden"])
            old = build_image("esp32", project=SIM_PROJECT, version="1.0.0")
            new = build_image("esp32", project=SIM_PROJECT, version="2.0.0")
            await admin.assign((await admin.import_image(old, "old.bin"))["sha256"], tag="garden")
            sha = (await admin.import_image(new, "new.bin"))["sha256"]
            rollout = await admin.start_rollout(sha, target={"stations": [mac]}, soak_s=3600, timeout_s=600)
            await tap.first("rollout_station", rollout=rollout["id"], state="updating")
            return mac, int(rollout["id"])

    try:
        mac, rollout = on_site(serve_process, site)
        terminal = tui()
        terminal.wait_for(lambda s: "online" in s)
        terminal.keys("u")
        terminal.wait_for(lambda s: "updating" in s and f"rollout {rollout}" in s)

        async def cancel_seen_by(admin: AdminClient, _: aiohttp.ClientSession) -> tuple[str, str | None]:
            async with open_tap(admin) as tap:
                terminal.keys("x")
                prompt = flat(
                    await asyncio.to_thread(terminal.wait_for, lambda s: bool(re.search(r"Cancel rollout \d+ \(", s)))
                )
                assert "The 1 station(s) running it (updated, or still soaking) keep it" in prompt, prompt[-900:]
                terminal.keys("y")
                await tap.first("rollout_cancelled", rollout=rollout)
                # Three more check-ins, each after its /ota poll: time enough to be sent 1.0.0, were it offered.
                await tap.wait_for(lambda _: len([m for m in tap.of("checkin") if m.get("mac") == mac]) >= 3)
            found = loose(await admin.station(mac))
            return found["version"], found["assigned_version"]

        assert on_site(serve_process, cancel_seen_by) == ("2.0.0", "2.0.0"), "it keeps what it runs"
    finally:
        for process in fleet:
            process.terminate()
            process.wait(timeout=30)
