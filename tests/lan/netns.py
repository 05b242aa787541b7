"""A throw-away LAN for mDNS tests: network namespaces on a bridge, never the machine's real interfaces."""

from __future__ import annotations

import itertools
import os
import selectors
import shutil
import signal
import subprocess
import textwrap
import time
import weakref
from collections.abc import Callable
from pathlib import Path

_COUNTER = itertools.count()


def can_make_namespaces() -> bool:
    """True where this process may create network namespaces (root, with iproute2)."""
    return os.geteuid() == 0 and shutil.which("ip") is not None


def run(*command: str) -> str:
    """Run a command and return its output; fail loudly."""
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=30).stdout


class ScratchLan:
    """A hub namespace with a bridge, and hosts plugged into it, each in its own namespace."""

    def __init__(self, subnet: int) -> None:
        tag = f"{os.getpid() % 10000}{next(_COUNTER)}"
        self.prefix = f"sm{tag}"
        self.subnet = subnet
        self.hub = f"{self.prefix}hub"
        self.hosts: list[str] = []
        run("ip", "netns", "add", self.hub)
        run("ip", "-n", self.hub, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
        run("ip", "-n", self.hub, "link", "set", "br0", "up")

    def add_host(self, number: int, *, into: str | None = None, name: str = "eth0") -> tuple[str, str]:
        """Plug in host `number` (or namespace `into` by another interface, `name`); return (namespace, address)."""
        ns = into or f"{self.prefix}h{number}"
        inside, outside = f"{self.prefix}i{number}", f"{self.prefix}o{number}"
        address = f"10.{self.subnet}.0.{number}"
        if into is None:
            run("ip", "netns", "add", ns)
            self.hosts.append(ns)
        run("ip", "link", "add", inside, "netns", ns, "type", "veth", "peer", "name", outside, "netns", self.hub)
        run("ip", "-n", ns, "link", "set", inside, "name", name)
        run("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", name)
        for args in (("lo", "up"), (name, "up", "multicast", "on")):
            run("ip", "-n", ns, "link", "set", *args)
        if into is None:  # a host's first interface carries its multicast; mDNS responders pick theirs per socket
            run("ip", "-n", ns, "route", "add", "224.0.0.0/4", "dev", name)
        run("ip", "-n", self.hub, "link", "set", outside, "master", "br0", "up")
        return ns, address

    def remove(self) -> None:
        """Delete every namespace (their interfaces go with them)."""
        for ns in [*self.hosts, self.hub]:
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True, timeout=30)


class AvahiHost:
    """avahi-daemon with a private D-Bus in its own mount namespace inside a test host."""

    def __init__(self, ns: str, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        config = workdir / "avahi-daemon.conf"
        config.write_text(
            "[server]\nuse-ipv4=yes\nuse-ipv6=no\nallow-interfaces=eth0\nenable-dbus=yes\n"
            "[publish]\npublish-hinfo=no\npublish-workstation=no\n"
        )
        script = textwrap.dedent(f"""
            mount -t tmpfs tmpfs /run
            mkdir -p /run/dbus /run/avahi-daemon
            dbus-daemon --system --nofork --nopidfile &
            while [ ! -S /run/dbus/system_bus_socket ]; do sleep 0.05; done
            exec avahi-daemon --no-drop-root --no-chroot --no-rlimits -f {config}
        """)
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", ns, "unshare", "-m", "--propagation", "private", "sh", "-c", script],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if "Server startup complete" in line:
                break
        else:
            raise RuntimeError("avahi-daemon did not start")

    def command(self, *args: str) -> list[str]:
        """A command line that runs inside this host's network and mount namespaces."""
        return ["nsenter", "-t", str(self.process.pid), "-m", "-n", *args]

    def stop(self) -> None:
        """Stop avahi-daemon and the D-Bus it started."""
        # avahi-daemon and its D-Bus share the process group the test started.
        stop_group(self.process)


def stop_group(process: subprocess.Popen[str]) -> None:
    """SIGTERM the process group `process` leads (started with start_new_session), SIGKILL after 10 s."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def wait_for_line(process: subprocess.Popen[str], predicate: Callable[[str], bool], timeout: float) -> str:
    """Read `process`'s output until a line satisfies `predicate`; fail after `timeout` seconds."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    # Raw reads with our own buffer: a buffered readline() may swallow two lines from one chunk, leaving
    # the second where select() cannot see it. What is left over waits for the next call.
    pending = _UNREAD.setdefault(process, bytearray())
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            while b"\n" in pending:
                raw, _, rest = bytes(pending).partition(b"\n")
                pending[:] = rest
                line = raw.decode("utf-8", "replace")
                if predicate(line):
                    return line
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            pending += chunk
    raise TimeoutError(f"no matching line within {timeout} s")


_UNREAD: weakref.WeakKeyDictionary[subprocess.Popen[str], bytearray] = weakref.WeakKeyDictionary()
