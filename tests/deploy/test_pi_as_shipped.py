"""The Pi as shipped: the README's own commands on a Debian 12 booted under a real systemd.

The root is booted with systemd-nspawn: systemd is its PID 1 and runs the units as on a Pi (the sandbox,
READY, the watchdog, restarts, credentials, device policies). Its network is its own and leads nowhere: pip
installs from a wheelhouse made beforehand (the container's /etc/pip.conf stands in for PyPI), and the relay
of the README's tunnel is the container's own sshd under the relay's name. What cannot exist in a container
is a USB adapter: a device node with an adapter's numbers stands in for one plugged in after boot.
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.booted import BootedRoot, booted, can_boot
from tests.deploy.rootfs import ROOT, LocalIndex, can_bootstrap, copy_root

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        can_bootstrap() is not None or can_boot() is not None, reason=str(can_bootstrap() or can_boot())
    ),
]

README = (ROOT / "README.md").read_text()
SERVICE = "stationmaster.service"
TUNNEL = "stationmaster-tunnel.service"
# What a denial by the sandbox leaves in the journal: a refused call (EPERM, EACCES, EROFS), a system call
# the filter kills the process for (SIGSYS), a device the policy refuses, the watchdog's kill.
DENIALS = re.compile(
    r"Operation not permitted|Permission denied|Read-only file system|status=31/SYS|Bad system call"
    r"|Watchdog timeout|Traceback"
)


class Pi:
    """The booted Pi, what the README's install printed, and what was true of the service right after it."""

    def __init__(self, machine: BootedRoot, installed: subprocess.CompletedProcess[str]) -> None:
        self.machine = machine
        self.installed = installed
        self.first_invocation = self.unit(SERVICE, "InvocationID")

    def unit(self, name: str, prop: str) -> str:
        """One property of a unit, as `systemctl show` gives it."""
        return self.machine.run(f"systemctl show --property={prop} --value {name}").stdout.strip()

    def admin(self, script: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a script as addie, the admin, in a login shell."""
        return self.machine.run(script, user="addie", check=check)

    def journal(self, unit: str) -> str:
        """Everything the unit and systemd said about it since boot."""
        return self.machine.run(f"journalctl --boot --no-pager --output=cat --unit={unit}").stdout


@pytest.fixture(scope="module")
def pi(tmp_path_factory: pytest.TempPathFactory, debian_root: None, local_index: LocalIndex) -> Iterator[Pi]:
    """A Pi prepared as the README says, from the SD card to the install, with the relay ready."""
    base = tmp_path_factory.mktemp("pi")
    root = copy_root(base / "root")
    _write_the_sd_card(root)
    with contextlib.ExitStack() as stack:
        try:
            machine = stack.enter_context(
                booted(
                    root,
                    base / "console.log",
                    hostname="broome-pi",
                    read_only_binds=[(local_index.wheelhouse, "/srv/wheelhouse")],
                )
            )
        except (RuntimeError, TimeoutError) as exc:
            # Nothing of the appliance has run yet: this machine cannot boot a container (its kernel, cgroups or
            # seccomp refuse systemd-nspawn). Said plainly in the test report, never taken for a pass.
            pytest.skip(f"systemd-nspawn cannot boot a Debian 12 root on this machine: {str(exc)[-1500:]}")
        _first_boot(machine)
        _prepare_the_relay(machine)
        machine.add_lan("192.168.50.2/24")  # the site's router's LAN, on eth0
        _copy_the_source(machine)
        started = time.monotonic()
        installed = machine.run(_readme_block("deploy/install.sh"), user="addie", check=False, timeout=600)
        print(f"\nthe README's install: {time.monotonic() - started:.0f} s")
        assert installed.returncode == 0, installed.stdout + installed.stderr
        # The relay's admin pastes the line the install printed (README step 3).
        line = next(text.strip() for text in installed.stdout.splitlines() if text.strip().startswith("restrict,"))
        machine.run(
            "install -d -o sm-tunnel -g sm-tunnel -m 0700 ~sm-tunnel/.ssh && cat >> ~sm-tunnel/.ssh/authorized_keys"
            " && chown sm-tunnel: ~sm-tunnel/.ssh/authorized_keys",
            stdin=(line + "\n").encode(),
        )
        yield Pi(machine, installed)
    shutil.rmtree(root)  # a few hundred MB; the console's log stays beside it


def test_the_readme_install_command_installs_and_checks_the_relay(pi: Pi) -> None:
    printed = pi.installed.stdout
    assert pi.installed.stderr == ""
    assert "created system user stationmaster-tunnel" in printed
    # The relay's host key was checked at the bench; the relay had not been given the key yet.
    assert (
        "the relay relay.example.net:22 has the host key in /etc/stationmaster/tunnel/known_hosts;"
        " it does not accept the tunnel key yet"
    ) in printed
    assert "started stationmaster.service stationmaster-tunnel.service" in printed
    # The config sets nothing: every setting is the built-in default, as `config check` says.
    checked = pi.admin("stationmaster config check").stdout.splitlines()
    assert checked[0].split() == ["config", "file", "/etc/stationmaster/stationmaster.toml"]
    assert [row for row in checked[1:] if not row.endswith("(default)")] == []
    # ... and the service's, not those of a service addie would run from her shell.
    rows = {row.split()[0]: row.split()[1] for row in checked[1:]}
    assert (rows["data_dir"], rows["admin_socket"]) == ("/var/lib/stationmaster", "/run/stationmaster/admin.sock")


def test_the_service_is_up_ready_and_says_where_it_listens(pi: Pi) -> None:
    assert pi.unit(SERVICE, "ActiveState") == "active"  # Type=notify: only once it said READY=1
    assert pi.unit(SERVICE, "StatusText") == "serving stations on http://0.0.0.0:8080"
    assert pi.unit(SERVICE, "WatchdogUSec") == "1min"
    said = pi.admin("stationmaster status").stdout
    assert "stations at http://0.0.0.0:8080" in said
    assert _exposure(pi, SERVICE) <= 2.0


def test_the_admin_socket_is_the_groups(pi: Pi) -> None:
    seen = pi.machine.run("stat -c '%a %U %G %F' /run/stationmaster /run/stationmaster/admin.sock").stdout
    assert seen.splitlines() == [
        "750 stationmaster stationmaster directory",
        "660 stationmaster stationmaster socket",
    ]


def test_doctor_finds_everything_ok_for_the_admin(pi: Pi) -> None:
    result = pi.admin("stationmaster doctor --json", check=False)
    findings = {item["check"]: item for item in json.loads(result.stdout)}
    assert [f for f in findings.values() if f["verdict"] != "ok"] == [], result.stdout + result.stderr
    assert result.returncode == 0
    assert findings["config"]["seen"] == "/etc/stationmaster/stationmaster.toml loads"
    assert findings["mdns"]["seen"] == "stationmaster.local answers with 192.168.50.2"
    assert findings["disk"]["seen"].endswith("MB free under /var/lib/stationmaster")


def test_doctor_tells_someone_else_to_join_the_group_and_blames_nobody_for_the_port(pi: Pi) -> None:
    result = pi.machine.run("stationmaster doctor --json", user="eve", check=False)
    findings = {item["check"]: item for item in json.loads(result.stdout)}
    assert result.returncode == 1
    assert findings["socket"]["fix"].startswith("`sudo usermod -aG stationmaster eve`")
    assert findings["port"] == {
        "check": "port",
        "verdict": "ok",
        "seen": "port 8080 is served by stationmaster, the user the service runs as",
        "fix": "",
    }
    assert findings["disk"]["seen"].endswith("MB free under /var/lib/stationmaster")


def test_the_tunnel_comes_up_and_leads_to_the_pis_sshd(pi: Pi) -> None:
    # The tunnel retries every 30 s; the relay has had the key since the install.
    banner = _await_banner(pi.machine, 2201, within=90)
    assert banner.startswith("SSH-2.0-OpenSSH")
    # From the admin's side, through the relay's port, as ~/.ssh/config's `Host broome` does.
    pi.admin(
        "ssh-keygen -q -t ed25519 -N '' -f ~/.ssh/id_ed25519 && cat ~/.ssh/id_ed25519.pub >> ~/.ssh/authorized_keys"
    )
    through = pi.admin(
        "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new -p 2201 addie@127.0.0.1 stationmaster status"
    )
    assert through.stdout.startswith("Stationmaster ")
    assert _exposure(pi, TUNNEL) <= 2.0
    journal = pi.journal(TUNNEL)
    assert "No user exists" not in journal
    assert "Host key verification failed" not in journal


def test_a_serial_adapter_plugged_in_after_boot_may_be_opened(pi: Pi) -> None:
    # The service started with no adapter's driver loaded (a container loads none). udev's part, played
    # here: the nodes of a CP210x (usbserial, ttyUSB) and an Espressif USB-Serial/JTAG (cdc_acm, ttyACM),
    # the rule's group and mode, the links the service watches.
    pi.machine.run(
        "mkdir -p /dev/stationmaster"
        " && mknod -m 0660 /dev/ttyUSB0 c 188 0 && chgrp stationmaster /dev/ttyUSB0"
        " && mknod -m 0660 /dev/ttyACM0 c 166 0 && chgrp stationmaster /dev/ttyACM0"
        " && ln -s ../ttyUSB0 /dev/stationmaster/ttyUSB0 && ln -s ../ttyACM0 /dev/stationmaster/ttyACM0"
    )
    try:
        messages = _await_port_messages(pi, {"ttyUSB0", "ttyACM0"}, within=60)
    finally:
        pi.machine.run("rm -rf /dev/stationmaster /dev/ttyUSB0 /dev/ttyACM0")
    for name, message in messages.items():
        # Opened, as far as the device policy goes: the kernel then finds no adapter behind the node.
        assert "No such device" in message, (name, message)
        assert "Operation not permitted" not in message


def test_a_relay_key_that_does_not_match_is_refused_at_install(pi: Pi) -> None:
    known = "/etc/stationmaster/tunnel/known_hosts"
    before = pi.machine.run(f"cat {known}").stdout
    pi.machine.run(
        "ssh-keygen -q -t ed25519 -N '' -f /tmp/impostor"
        " && echo \"relay.example.net $(cut -d' ' -f1-2 /tmp/impostor.pub)\" > /tmp/impostor_known_hosts"
    )
    result = pi.admin(
        _readme_block("deploy/install.sh") + " --tunnel-known-hosts /tmp/impostor_known_hosts", check=False
    )
    assert result.returncode == 1
    assert (
        "error: the relay relay.example.net:22 showed a host key that is not in /tmp/impostor_known_hosts"
        in result.stderr
    )
    assert pi.machine.run(f"cat {known}").stdout == before


def test_no_sandbox_denial_in_the_journal(pi: Pi) -> None:
    journal = pi.journal(SERVICE)
    assert DENIALS.findall(journal) == [], journal


def test_the_watchdog_is_pinged_past_watchdogsec(pi: Pi) -> None:
    ready = int(pi.unit(SERVICE, "ActiveEnterTimestampMonotonic"))
    watchdog = 60_000_000  # WatchdogSec=60, in microseconds as systemd counts
    deadline = time.monotonic() + 3 * watchdog / 1e6
    while int(pi.unit(SERVICE, "WatchdogTimestampMonotonic")) <= ready + watchdog:
        assert time.monotonic() < deadline, "no watchdog ping came after WatchdogSec"
        time.sleep(1)  # systemd's record of the pings: nothing to await from out here
    assert pi.unit(SERVICE, "InvocationID") == pi.first_invocation  # never restarted meanwhile
    assert pi.unit(SERVICE, "NRestarts") == "0"


def test_restart_and_kill_keep_the_registry(pi: Pi) -> None:
    pi.machine.run("stationmaster simulate --url http://127.0.0.1:8080 --count 3 --interval 1 --duration 2", user="eve")
    stations = _macs(pi)
    assert len(stations) == 3
    pi.machine.run(f"systemctl restart {SERVICE}")
    assert pi.unit(SERVICE, "ActiveState") == "active"
    assert _macs(pi) == stations
    restarted = pi.unit(SERVICE, "InvocationID")
    pi.machine.run(f"kill -9 $(systemctl show --property=MainPID --value {SERVICE})")
    _await_new_invocation(pi, restarted, within=60)  # Restart=on-failure, after RestartSec=5
    assert pi.unit(SERVICE, "NRestarts") == "1"
    assert _macs(pi) == stations
    database = "/var/lib/stationmaster/registry.sqlite3"
    integrity = f"import sqlite3; print(sqlite3.connect('{database}').execute('pragma integrity_check').fetchone()[0])"
    assert pi.machine.run(f'python3 -c "{integrity}"').stdout.strip() == "ok"


def test_the_readme_uninstall_command_removes_the_install_and_keeps_the_data(pi: Pi) -> None:
    result = pi.admin(_readme_block("deploy/uninstall.sh"))
    assert result.stderr == ""  # no warning, userdel's about the group included
    assert "removed user stationmaster-tunnel" in result.stdout
    assert "removed group stationmaster" in result.stdout
    machine = pi.machine
    for unit in (SERVICE, TUNNEL):
        assert machine.run(f"systemctl cat {unit}", check=False).returncode != 0
    for user in ("stationmaster", "stationmaster-tunnel"):
        assert machine.run(f"getent passwd {user}", check=False).returncode == 2
    assert machine.run("ls /opt/stationmaster /usr/local/bin/stationmaster", check=False).returncode == 2
    machine.run("test -f /var/lib/stationmaster/registry.sqlite3 && test -f /etc/stationmaster/tunnel/id_ed25519")
    assert _accepts(machine, 8080) is False
    assert _accepts(machine, 2201) is False


def _write_the_sd_card(root: Path) -> None:
    """What Raspberry Pi Imager writes before the first boot (README step 1): the host name."""
    (root / "etc" / "hostname").write_text("broome-pi\n")
    with (root / "etc" / "hosts").open("a") as hosts:
        hosts.write("127.0.1.1 broome-pi\n")


def _first_boot(machine: BootedRoot) -> None:
    """What the Imager's settings make at the first boot: addie, with sudo; and eve, a user who is no admin."""
    machine.run(
        """
        useradd --create-home --shell /bin/bash addie && useradd --create-home --shell /bin/bash eve
        echo 'addie ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/010_pi-nopasswd
        install -d -o addie -g addie -m 0700 ~addie/.ssh
        # PyPI, as far as this Pi knows: the wheelhouse made before it was booted.
        printf '[global]\\nno-index = true\\nfind-links = /srv/wheelhouse\\n' > /etc/pip.conf
        """
    )
    # NTP cannot reach a server from a network that leads nowhere: the flag systemd-timesyncd writes at its
    # first synchronisation stands in for it (systemd-time-wait-sync and doctor read that flag).
    machine.run("install -d /run/systemd/timesync && touch /run/systemd/timesync/synchronized")


def _prepare_the_relay(machine: BootedRoot) -> None:
    """The README's relay (step 3), played by the Pi's own sshd under the relay's name."""
    block = _readme_block("Match User sm-tunnel")
    adduser, _, config = block.partition("\n")
    machine.run(adduser)
    settings = config.partition("\n")[2]  # below the comment that names the file
    machine.run("cat > /etc/ssh/sshd_config.d/stationmaster.conf", stdin=settings.encode())
    machine.run("echo '127.0.0.1 relay.example.net' >> /etc/hosts && systemctl reload ssh")


def _copy_the_source(machine: BootedRoot) -> None:
    """The README's copy command: tar on the admin's machine, piped over ssh into a tar on the Pi."""
    line = _readme_block("tar -c").strip()
    local, _, remote = line.partition(" | ssh addie@broome-pi.local ")
    archive = subprocess.run(shlex.split(local), cwd=ROOT, capture_output=True, check=True, timeout=120).stdout
    machine.run(shlex.split(remote)[0], user="addie", stdin=archive)


def _readme_block(containing: str) -> str:
    """The README's shell block holding `containing`, as written."""
    blocks: list[str] = [b for b in re.findall(r"```sh\n(.*?)```", README, re.DOTALL) if containing in b]
    assert len(blocks) == 1, f"the README should have one sh block with {containing!r}"
    return blocks[0].strip()


def _exposure(pi: Pi, unit: str) -> float:
    """`systemd-analyze security`'s overall exposure level for the unit (0 best, 10 worst)."""
    verdict = pi.machine.run(f"systemd-analyze security {unit} --no-pager").stdout.splitlines()[-1]
    return float(re.findall(r"level for \S+: ([\d.]+)", verdict)[0])


def _macs(pi: Pi) -> list[str]:
    stations = json.loads(pi.admin("stationmaster stations --json").stdout)["stations"]
    return sorted(station["mac"] for station in stations)


def _accepts(machine: BootedRoot, port: int) -> bool:
    probe = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5).close()"
    return machine.run(f'python3 -c "{probe}"', check=False).returncode == 0


def _await_banner(machine: BootedRoot, port: int, within: float) -> str:
    """What answers first on `port` inside the container, once something listens there."""
    probe = f"import socket; print(socket.create_connection(('127.0.0.1', {port}), timeout=5).recv(100).decode())"
    deadline = time.monotonic() + within
    while True:
        result = machine.run(f'python3 -c "{probe}"', check=False)
        if result.returncode == 0:
            return result.stdout.strip()
        assert time.monotonic() < deadline, f"nothing listens on {port}:\n{result.stderr}"
        time.sleep(1)  # a process inside the container starting to listen: nothing to await from out here


def _await_port_messages(pi: Pi, names: set[str], within: float) -> dict[str, str]:
    """What the service says of each USB port once it has tried to open them all."""
    deadline = time.monotonic() + within
    while True:
        ports = json.loads(pi.admin("stationmaster usb list --json").stdout)["ports"]
        messages: dict[str, str] = {
            port["name"]: port["message"]
            for port in ports
            if port["name"] in names and port["message"].startswith("cannot open")
        }
        if set(messages) == names:
            return messages
        assert time.monotonic() < deadline, f"the service did not try {names}: {ports}"
        time.sleep(0.5)  # the service's port watcher polls every second: nothing to await from out here


def _await_new_invocation(pi: Pi, old: str, within: float) -> None:
    deadline = time.monotonic() + within
    while pi.unit(SERVICE, "InvocationID") == old or pi.unit(SERVICE, "ActiveState") != "active":
        assert time.monotonic() < deadline, pi.journal(SERVICE)[-3000:]
        time.sleep(0.5)  # systemd restarting the unit after RestartSec: nothing to await from out here
