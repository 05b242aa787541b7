"""A site across a 3G-like link: `serve` and Debian's sshd on the appliance's side, the admin's namespace across."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ServeProcess, stationmaster_command
from tests.lan.netns import can_make_namespaces
from tests.remote.slowlink import Shape, SlowLink
from tests.remote.sshd import SiteSshd, have_sshd

# 3G as a remote site has it: 150 ms each way, 2 Mbit/s, a little loss.
THREE_G = Shape(delay_s=0.150, rate_bit_s=2_000_000, loss=0.005)
# For the tests of the forward itself: a link that costs no time.
QUICK = Shape(delay_s=0.001, rate_bit_s=100_000_000, loss=0.0)
_SUBNETS = itertools.count(150)


def can_build_sites() -> bool:
    """Root, iproute2, a TUN device and OpenSSH's server and client."""
    return can_make_namespaces() and os.path.exists("/dev/net/tun") and have_sshd()


needs_a_site = pytest.mark.skipif(
    not can_build_sites(), reason="needs root, iproute2, /dev/net/tun and openssh-server (.ci/run installs them)"
)


class Site:
    """The appliance (serve, sshd on 10.S.0.2) and the admin's home namespace (10.S.0.1), joined by `link`."""

    def __init__(self, tmp_path: Path, shape: Shape) -> None:
        subnet = next(_SUBNETS)
        self.link = SlowLink(f"sr{os.getpid() % 10000}{subnet}", subnet, shape)
        self.serve: ServeProcess | None = None
        self.sshd: SiteSshd | None = None
        try:
            (tmp_path / "appliance").mkdir()
            self.serve = ServeProcess(tmp_path / "appliance")
            self.serve.start()
            self.sshd = SiteSshd(self.link.site, self.link.site_address, tmp_path / "ssh", self.serve.socket)
        except BaseException:
            self.close()
            raise
        self.home_tmp = tmp_path / "home-tmp"
        self.home_tmp.mkdir()

    @property
    def service(self) -> ServeProcess:
        """The appliance's service."""
        assert self.serve is not None
        return self.serve

    def ssh_command(self) -> str:
        """The ssh that reaches the appliance as `site` (what STATIONMASTER_SSH_COMMAND names)."""
        assert self.sshd is not None
        return self.sshd.ssh_command()

    def home_env(self) -> dict[str, str]:
        """The admin's environment at home: their ssh, and a temporary directory of their own."""
        return {"STATIONMASTER_SSH_COMMAND": self.ssh_command(), "TMPDIR": str(self.home_tmp)}

    def at_home(self, *command: str) -> list[str]:
        """A command line run on the admin's machine, across the link from the appliance."""
        return ["ip", "netns", "exec", self.link.home, *command]

    def stationmaster_at_home(self, *args: str) -> list[str]:
        """`stationmaster ARGS` on the admin's machine."""
        return self.at_home(*stationmaster_command(*args))

    def close(self) -> None:
        """Stop sshd and the service, take the link and its namespaces down."""
        if self.sshd is not None:
            self.sshd.stop()
        if self.serve is not None and self.serve.proc is not None and self.serve.proc.poll() is None:
            self.serve.stop()
        self.link.remove()


@pytest.fixture
def quick_site(tmp_path: Path) -> Iterator[Site]:
    """A site across a link that costs no time."""
    site = Site(tmp_path, QUICK)
    yield site
    site.close()


@pytest.fixture
def site_over_3g(tmp_path: Path) -> Iterator[Site]:
    """A site across a 3G-like link."""
    site = Site(tmp_path, THREE_G)
    yield site
    site.close()
