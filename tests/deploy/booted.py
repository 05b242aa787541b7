"""A Debian root booted under systemd-nspawn: systemd as its PID 1, a network of its own that leads nowhere."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def can_boot() -> str | None:
    """None where a root can be booted here, else why not."""
    if os.geteuid() != 0:
        return "needs root (systemd-nspawn)"
    for tool, package in (("systemd-nspawn", "systemd-container"), ("nsenter", "util-linux"), ("ip", "iproute2")):
        if shutil.which(tool) is None:
            return f"needs {tool} (Debian's {package}: .ci/run installs it)"
    if not Path("/sys/fs/cgroup/cgroup.controllers").exists() and not Path("/sys/fs/cgroup/unified").is_dir():
        return "needs a cgroup v2 hierarchy for the container's systemd"
    return None


class BootedRoot:
    """One booted container: run commands in it (as root or as a user's login shell), then power it off."""

    def __init__(self, process: subprocess.Popen[bytes], leader: int, log: Path) -> None:
        self.process = process
        self.leader = leader  # the container's systemd, as this machine sees its process id
        self.log = log

    def run(
        self,
        script: str,
        *,
        user: str | None = None,
        stdin: bytes | None = None,
        check: bool = True,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[str]:
        """Run a bash script inside, as root or in `user`'s login shell (as over SSH); raise if it fails."""
        if user is None:
            inner = ["/bin/bash", "-c", script]
        else:
            inner = ["su", "--login", user, "--shell", "/bin/bash", "--command", script]
        # nsenter joins every namespace of the container, so its mounts, users and processes are what is seen;
        # env -i: nothing of this machine's environment (PIP_*, HOME) leaks in.
        command = ["nsenter", f"--target={self.leader}", "--all", "env", "-i", f"PATH={PATH}", "LANG=C.UTF-8", *inner]
        result = subprocess.run(
            command, input=stdin, capture_output=True, timeout=timeout, check=False, env={"PATH": PATH}
        )
        done = subprocess.CompletedProcess(
            result.args,
            result.returncode,
            result.stdout.decode(errors="replace"),
            result.stderr.decode(errors="replace"),
        )
        if check and done.returncode != 0:
            raise AssertionError(f"{script!r} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done

    def net(self, *command: str) -> None:
        """Run one of this machine's commands (e.g. `ip`) in the container's network namespace only."""
        subprocess.run(
            ["nsenter", f"--target={self.leader}", "--net", *command], check=True, capture_output=True, timeout=30
        )

    def add_lan(self, address: str) -> None:
        """Give it an eth0 with `address` (e.g. 192.168.50.2/24), its other end a second interface inside it."""
        self.net("ip", "link", "add", "eth0", "type", "veth", "peer", "name", "ap0")
        self.net("ip", "addr", "add", address, "dev", "eth0")
        self.net("ip", "link", "set", "ap0", "up")
        self.net("ip", "link", "set", "eth0", "up", "multicast", "on")
        self.net("ip", "route", "add", "224.0.0.0/4", "dev", "eth0")

    def poweroff(self, timeout: float = 60) -> None:
        """Shut it down as a Pi would be; kill it if it does not stop in time."""
        if self.process.poll() is None:
            self.run("systemctl poweroff", check=False, timeout=30)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.leader, 9)  # PID 1 of its namespace: everything in it dies too
            self.process.wait(timeout=30)


@contextmanager
def booted(
    root: Path, log: Path, *, hostname: str, read_only_binds: Sequence[tuple[Path, str]] = ()
) -> Iterator[BootedRoot]:
    """Boot `root` (its console written to `log`) and yield it once systemd says the boot is over."""
    binds = [f"--bind-ro={outside}:{inside}" for outside, inside in read_only_binds]
    command = [
        "systemd-nspawn",
        "--boot",
        f"--directory={root}",
        f"--machine=stationmaster-test-{os.getpid()}",
        f"--hostname={hostname}",
        # No systemd runs this machine (or it is not asked): nothing to register with, no unit to make.
        "--register=no",
        "--keep-unit",
        # Only loopback: nothing the container does leaves it (the test adds a LAN inside it).
        "--private-network",
        # The container's systemd enforces DevicePolicy= and IPAddressDeny= with BPF programs, as on a Pi.
        "--capability=CAP_BPF",
        "--system-call-filter=bpf",
        "--console=read-only",
        *binds,
    ]
    # The container's systemd wants the unified cgroup hierarchy even where this machine mounts both.
    env = {"PATH": PATH, "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY": "1"}
    with log.open("wb") as console:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT, env=env)
    machine: BootedRoot | None = None
    try:
        machine = BootedRoot(process, _leader(process, log), log)
        _wait_booted(machine)
        yield machine
    finally:
        if machine is not None:
            machine.poweroff()
        elif process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def _leader(process: subprocess.Popen[bytes], log: Path, within: float = 60) -> int:
    """The container's PID 1: the child systemd-nspawn starts."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"systemd-nspawn exited {process.returncode}:\n{log.read_text(errors='replace')}")
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and _parent(entry) == process.pid:
                return int(entry.name)
        time.sleep(0.05)  # another process's child appearing: nothing to await
    raise TimeoutError(f"systemd-nspawn started nothing:\n{log.read_text(errors='replace')}")


def _parent(entry: Path) -> int | None:
    try:
        # The command name may hold spaces and parentheses: the parent id follows the last ')'.
        return int((entry / "stat").read_text().rpartition(")")[2].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _wait_booted(machine: BootedRoot, within: float = 120) -> None:
    """Wait for `systemctl is-system-running --wait`, once systemd's own socket is up to answer it."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = machine.run("systemctl is-system-running --wait", check=False, timeout=within)
        if result.stdout.strip() in ("running", "degraded"):
            return
        if machine.process.poll() is not None:
            break
        time.sleep(0.2)  # systemd inside is not answering yet: nothing to await from out here
    raise RuntimeError(f"the container did not finish booting:\n{machine.log.read_text(errors='replace')}")
