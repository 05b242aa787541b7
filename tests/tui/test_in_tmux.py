"""The real `stationmaster` command in a real terminal (tmux, 80x24): see the stations, rename one, quit."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ServeProcess, stationmaster_command
from tests.terminal import PROMPT, Terminal
from tests.test_end_to_end import admin_command

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (.ci/run installs it)")


@pytest.fixture
def terminal(serve_process: ServeProcess) -> Iterator[Terminal]:
    """A shell in tmux that finds the service through STATIONMASTER_ADMIN_SOCKET."""
    session = Terminal(f"sm{os.getpid()}", {"STATIONMASTER_ADMIN_SOCKET": str(serve_process.socket)})
    yield session
    session.close()


def test_the_admin_sees_the_stations_renames_one_and_quits(serve_process: ServeProcess, terminal: Terminal) -> None:
    simulate = subprocess.Popen(
        stationmaster_command("simulate", "--count", "5", "--url", serve_process.url, "--interval", "1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        terminal.wait_for(lambda s: s.rstrip().endswith(PROMPT.rstrip()))
        command = " ".join(shlex.quote(part) for part in stationmaster_command())
        terminal.keys(command, "Enter")
        shown = terminal.wait_for(lambda s: s.count("pending") >= 5)
        for tab in ("Stations", "Firmware", "Events"):
            assert tab in shown
        terminal.keys("Enter")
        # The station opened is the one under the cursor: its name heads the detail screen.
        detail = terminal.wait_for(lambda s: "Rename" in s and "pending" in s.splitlines()[0])
        old_name = detail.split()[0]
        assert old_name in shown
        terminal.keys("r")
        terminal.wait_for(lambda s: "New name" in s)
        terminal.keys("Home")
        terminal.keys("C-k")
        # The question names the station; the field below it is empty once cleared.
        terminal.wait_for(lambda s: old_name not in s.split("New name", 1)[1].split("\n", 1)[1][:400])
        terminal.keys("-l", "pump-house")
        terminal.keys("Enter")
        terminal.wait_for(lambda s: "pump-house" in s)
        listed = admin_command(serve_process, "stations", "--json")
        names = {s["name"] for s in json.loads(listed.stdout)["stations"]}
        assert "pump-house" in names
        assert old_name not in names
        terminal.keys("Escape")
        terminal.wait_for(lambda s: "pump-house" in s and s.count("pending") >= 5)
        terminal.keys("q")
        after = terminal.wait_for(lambda s: s.rstrip().endswith(PROMPT.rstrip()) and "pending" not in s)
        assert "Traceback" not in after
    finally:
        simulate.terminate()
        simulate.wait(timeout=30)


def test_with_no_service_it_says_how_to_start_one_and_demo_runs_the_whole_story(tmp_path: Path) -> None:
    missing = tmp_path / "nobody-here.sock"
    session = Terminal(f"smdemo{os.getpid()}", {"STATIONMASTER_ADMIN_SOCKET": str(missing)})
    try:
        session.wait_for(lambda s: s.rstrip().endswith(PROMPT.rstrip()))
        command = " ".join(shlex.quote(part) for part in stationmaster_command())
        session.keys(command, "Enter")
        shown = session.wait_for(lambda s: "stationmaster demo" in s and s.rstrip().endswith(PROMPT.rstrip()))
        assert "stationmaster serve" in shown, "it says how to start a service"
        session.keys("clear", "Enter")
        session.keys(f"{command} demo --count 4 --http-port 0", "Enter")
        # The demo's stations appear, are accepted and check in: four rows come online.
        session.wait_for(lambda s: s.count("online") >= 4, within=60)
        session.keys("q")
        after = session.wait_for(lambda s: s.rstrip().endswith(PROMPT.rstrip()) and "online" not in s, within=30)
        assert "Traceback" not in after
    finally:
        session.close()
