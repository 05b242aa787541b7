"""Which appliance a command talks to on the admin's machine, when a site is named for SSH."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import stationmaster_command


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`stationmaster ARGS` in a clean environment plus `env`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STATIONMASTER_")}
    return subprocess.run(
        stationmaster_command(*args), env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


def test_work_of_the_admins_own_machine_needs_no_appliance(tmp_path: Path) -> None:
    # A site named for SSH that cannot be reached (TEST-NET-1): making a feed key must not try to reach it.
    named = {"STATIONMASTER_REMOTE_SSH": "addie@192.0.2.1", "STATIONMASTER_SSH_COMMAND": "/nowhere/ssh"}
    made = run("feed", "keygen", str(tmp_path / "feed.key"), env=named)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "feed.key").is_file()
    status = run("status", env=named)
    assert status.returncode == 3
    assert "no '/nowhere/ssh' command on this machine" in status.stderr
    local = run("--admin-socket", str(tmp_path / "none.sock"), "status", env=named)
    assert local.returncode == 3
    assert "none.sock" in local.stderr, "a socket named on the command line is this machine's"


def test_a_destination_that_is_not_one_is_a_usage_error(tmp_path: Path) -> None:
    for bad in ("addie@", "broome:70000", "-oProxyCommand=id"):
        shown = run(f"--ssh={bad}", "status", env={})
        assert shown.returncode == 2, shown.stderr
        assert "Traceback" not in shown.stderr
    refused = run("--ssh", "broome", "demo", env={})
    assert refused.returncode == 2
    assert "--ssh" in refused.stderr
