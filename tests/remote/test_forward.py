"""`stationmaster --ssh`: every command from the admin's own machine, through the system's ssh and a real sshd."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import stat
import subprocess
import time
from pathlib import Path

import pytest

from appliance.contract.client import AdminClient, ServiceUnavailable
from appliance.contract.shapes import Status
from appliance.remote import ForwardError, SshForward, parse_destination, ssh_program
from tests.remote.conftest import Site, needs_a_site
from tests.remote.sshd import APPLIANCE_SOCKET

pytestmark = needs_a_site


def at_home(site: Site, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`stationmaster ARGS` on the admin's machine, as they would type it."""
    return subprocess.run(
        site.stationmaster_at_home(*args),
        env={**os.environ, **site.home_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def ssh_processes_of(site: Site) -> list[str]:
    """ssh clients still running with this site's config."""
    listed = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    config = shlex.split(site.ssh_command())[-1]
    return [line for line in listed.splitlines() if line.startswith("ssh ") and config in line]


def test_every_command_reaches_the_appliance_and_leaves_nothing_behind(quick_site: Site) -> None:
    status = at_home(quick_site, "--ssh", "site", "status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["api"] == "1.1"
    # After the command, as well as before it.
    accepted = at_home(quick_site, "stations", "--ssh", "site", "--json")
    assert accepted.returncode == 0, accepted.stderr
    assert json.loads(accepted.stdout) == {"stations": []}
    assert list(quick_site.home_tmp.iterdir()) == [], "the private directory and its socket are gone"
    assert ssh_processes_of(quick_site) == []


def test_a_site_named_in_the_admins_own_config_opens_with_no_flag(quick_site: Site, tmp_path: Path) -> None:
    config = tmp_path / "xdg" / "stationmaster" / "stationmaster.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[remote]\nssh = "site"\n')
    shown = at_home(quick_site, "status", env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    assert shown.returncode == 0, shown.stderr
    assert "Stationmaster 0.1.0 is running" in shown.stdout
    # A socket named on the command line still means this machine's service.
    local = at_home(
        quick_site,
        "--admin-socket",
        str(tmp_path / "none.sock"),
        "status",
        env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")},
    )
    assert local.returncode == 3
    assert "none.sock" in local.stderr


def test_what_goes_wrong_afar_is_said_with_what_ssh_said(quick_site: Site) -> None:
    elsewhere = {"STATIONMASTER_REMOTE_SOCKET": "/run/nothing.sock"}
    no_service = at_home(quick_site, "--ssh", "site", "status", env=elsewhere)
    assert no_service.returncode == 3
    assert "nothing answered on /run/nothing.sock" in no_service.stderr
    assert "open failed" in no_service.stderr, "ssh's own words say why"
    assert "stationmaster serve" not in no_service.stderr, "no advice meant for a service on this machine"

    nobody = at_home(quick_site, "--ssh", "root@10.254.254.254", "status")
    assert nobody.returncode == 3
    assert "ssh could not open a forward to root@10.254.254.254" in nobody.stderr
    assert "unreachable" in nobody.stderr.lower()

    refused = at_home(quick_site, "--ssh=-oProxyCommand=id", "status")
    assert refused.returncode == 2
    assert "cannot start with '-'" in refused.stderr

    service_only = at_home(quick_site, "--ssh", "site", "serve")
    assert service_only.returncode == 2
    assert "--ssh" in service_only.stderr


def test_a_shared_connection_in_the_admins_ssh_config_is_not_used(quick_site: Site, tmp_path: Path) -> None:
    # A common ~/.ssh/config: multiplexed connections that outlive their first user.
    assert quick_site.sshd is not None
    config = tmp_path / "ssh_config_with_master"
    config.write_text(
        f"Host *\n    ControlMaster auto\n    ControlPath {tmp_path}/cm-%C\n    ControlPersist 600\n"
        + quick_site.sshd.client_config.read_text()
    )
    done = at_home(quick_site, "--ssh", "site", "status", env={"STATIONMASTER_SSH_COMMAND": f"ssh -F {config}"})
    assert done.returncode == 0, done.stderr
    assert list(tmp_path.glob("cm-*")) == [], "no master connection was made to hold the forward after us"
    listed = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    assert str(config) not in listed, "no ssh is left running"


async def test_the_forward_is_private_and_comes_back_when_ssh_ends(quick_site: Site) -> None:
    ssh = quick_site.at_home(*ssh_program(quick_site.ssh_command()))
    forward = SshForward(parse_destination("site"), APPLIANCE_SOCKET, ssh)
    await asyncio.to_thread(forward.open)
    try:
        directory = forward.local_socket.parent
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        assert stat.S_IMODE(forward.local_socket.stat().st_mode) == 0o600
        async with AdminClient(forward.local_socket) as client:
            assert (await client.status())["version"]
        first = forward.pid
        assert first is not None
        os.kill(first, 9)  # ssh gone, as when the link drops and its keepalives go unanswered
        async with AdminClient(forward.local_socket) as client:
            assert (await answered(client))["version"]
        assert forward.started == 2
        assert forward.pid != first
    finally:
        await asyncio.to_thread(forward.close)
    assert not directory.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(forward.pid or 0, 0)


def test_a_forward_that_cannot_be_made_says_why(quick_site: Site) -> None:
    ssh = quick_site.at_home(*ssh_program(quick_site.ssh_command()))
    forward = SshForward(parse_destination("nobody@site"), APPLIANCE_SOCKET, ssh)
    with pytest.raises(ForwardError, match="Permission denied"):
        forward.open()
    assert not forward.local_socket.parent.exists()


async def answered(client: AdminClient, within: float = 30.0) -> Status:
    """The status, once the forward answers again (a new ssh has no event to await: ask until it answers)."""
    deadline = time.monotonic() + within
    while True:
        try:
            return await client.status()
        except ServiceUnavailable:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


def test_doctor_looks_at_the_install_from_the_appliance(quick_site: Site) -> None:
    checked = at_home(quick_site, "--ssh", "site", "doctor", "--json")
    findings = json.loads(checked.stdout)
    # Run on the appliance: it finds the service answering on the socket where an installed Pi has it.
    assert any(str(APPLIANCE_SOCKET) in json.dumps(finding) for finding in findings), findings
    assert checked.returncode in (0, 1)  # 1: something else on this machine is not as on a Pi
