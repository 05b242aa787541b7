"""The TUI on the admin's own machine, `stationmaster --ssh site`, across a 3G-like link, in a real terminal."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Callable

import pytest

from appliance.contract.client import AdminClient
from tests.conftest import stationmaster_command
from tests.remote.conftest import Site, needs_a_site
from tests.remote.test_forward import ssh_processes_of
from tests.terminal import Terminal

pytestmark = [needs_a_site, pytest.mark.slow]


def eventually(condition: Callable[[], bool], within: float) -> None:
    """Wait until `condition` holds (processes ending have no event to await from here)."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("it did not happen in time")
        time.sleep(0.2)


def test_the_admin_works_the_site_from_home_through_a_dropped_link(site_over_3g: Site) -> None:
    site = site_over_3g
    stations = subprocess.Popen(
        stationmaster_command("simulate", "--count", "5", "--url", site.service.url, "--interval", "2"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    terminal = Terminal(f"smremote{os.getpid()}", site.home_env(), site.stationmaster_at_home("--ssh", "site"))
    try:
        # Stations appear, across the link.
        shown = terminal.wait_for(lambda s: s.count("pending") >= 5, within=90)
        assert "Lost the service" not in shown
        first = next(line for line in shown.splitlines() if "pending" in line)
        old_name = first.split()[0].strip("│┃ ")

        # An action round-trips: rename the first station from its screen.
        terminal.keys("Enter")
        terminal.wait_for(lambda s: "Rename" in s and old_name in s, within=30)
        terminal.keys("r")
        terminal.wait_for(lambda s: "New name" in s, within=10)
        terminal.keys("Home")
        terminal.keys("C-k")
        # The field below the question (which names the station) holds nothing now.
        terminal.wait_for(lambda s: old_name not in s.split("New name", 1)[1].split("\n", 1)[1][:400], within=10)
        terminal.keys("-l", "pump-house")
        terminal.keys("Enter")
        # The dialog gone and the station's screen showing its new name: the service has answered.
        terminal.wait_for(lambda s: "pump-house" in s and "New name" not in s, within=30)
        names = asyncio.run(names_at_the_site(site))
        assert "pump-house" in names
        assert old_name not in names
        terminal.keys("Escape")
        terminal.wait_for(lambda s: "pump-house" in s and s.count("pending") >= 5, within=30)

        # The link drops: the banner says so.
        site.link.cut()
        down = terminal.wait_for(lambda s: "reconnecting" in s, within=60)
        assert "site" in down.split("reconnecting", 1)[0], "the banner names the SSH link"
        # Meanwhile, at the site, the admin's partner renames another station on the Pi.
        second = next(line for line in down.splitlines() if "pending" in line and "pump-house" not in line)
        asyncio.run(rename_at_the_site(site, second.split()[0].strip("│┃ "), "gate-house"))

        # The link comes back: the TUI reconnects through a new forward by itself and shows what it missed.
        site.link.restore()
        back = terminal.wait_for(lambda s: "gate-house" in s and "reconnecting" not in s, within=120)
        assert "pump-house" in back
        assert back.count("pending") >= 5
        assert "Traceback" not in back

        terminal.keys("q")
        eventually(lambda: not ssh_processes_of(site), within=30)
        eventually(lambda: not list(site.home_tmp.iterdir()), within=30)
    finally:
        terminal.close()
        stations.terminate()
        stations.wait(timeout=30)


async def names_at_the_site(site: Site) -> set[str]:
    """The stations' names as the appliance has them."""
    async with AdminClient(site.service.socket) as admin:
        return {station["name"] for station in await admin.stations()}


async def rename_at_the_site(site: Site, name: str, new_name: str) -> None:
    """Rename a station on the appliance itself (not through the admin's TUI)."""
    async with AdminClient(site.service.socket) as admin:
        station = next(s for s in await admin.stations() if s["name"] == name)
        await admin.rename(station["mac"], new_name)
