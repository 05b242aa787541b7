"""deploy/install.sh and uninstall.sh, run for real in a Debian 12 root file system this module makes.

Nothing touches the machine running the tests: the scripts run under chroot in a private mount namespace,
and the package index they install from is a directory served on loopback. systemd is not PID 1 inside a
chroot, so the units are enabled but not started: instead the installed `stationmaster serve` is run as
the system user, the way the unit runs it, and the admin socket's permissions are tried with real users.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.deploy.rootfs import Chroot, LocalIndex, can_bootstrap, copy_root, snapshot

pytestmark = [pytest.mark.slow, pytest.mark.skipif(can_bootstrap() is not None, reason=str(can_bootstrap()))]

UNITS = ("/etc/systemd/system/stationmaster.service",)
ADDED_FOR_GOOD = ("/var/lib/stationmaster", "/etc/stationmaster")


class Site:
    """The root file system, its pristine snapshot, the checkout inside it and the index on loopback."""

    def __init__(self, chroot: Chroot, index: LocalIndex, source: str, pristine: dict[str, str]) -> None:
        self.chroot = chroot
        self.index = index
        self.source = source
        self.pristine = pristine

    def install(self, *options: str) -> str:
        """Run install.sh from the checkout inside the chroot; return what it printed."""
        command = f"bash {self.source}/deploy/install.sh --index-url {self.index.url} {' '.join(options)}"
        return self.chroot.run(command).stdout

    def uninstall(self, *options: str) -> str:
        """Run uninstall.sh; return what it printed."""
        return self.chroot.run(f"bash {self.source}/deploy/uninstall.sh {' '.join(options)}").stdout

    def added(self) -> set[str]:
        """Paths that exist now and did not before the first install."""
        return set(snapshot(self.chroot.root)) - set(self.pristine)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, debian_root: None, local_index: LocalIndex) -> Iterator[Site]:
    """A copy of the Debian 12 minbase with users addie and eve, and the index served on loopback."""
    base = tmp_path_factory.mktemp("site")
    chroot = Chroot(copy_root(base / "root"))
    # The relay's name leads nowhere (the machine's own loopback, where no sshd listens): nothing leaves.
    chroot.run(
        "useradd --create-home addie && useradd --create-home eve && echo '127.0.0.1 relay.example.net' >> /etc/hosts"
    )
    source = chroot.copy_checkout()
    pristine = snapshot(chroot.root)
    with local_index.serving():
        yield Site(chroot, local_index, source, pristine)
    shutil.rmtree(chroot.root)  # a few hundred MB; a failure's evidence is in the assertions


def test_install_from_the_checkout_sets_up_a_service_addie_can_reach(site: Site) -> None:
    printed = site.install("--from", site.source, "--admin", "addie")
    chroot = site.chroot
    assert "enabled, they start at the next boot" in printed
    assert chroot.run("id -nG stationmaster").stdout.split() == ["stationmaster", "dialout"]
    assert "stationmaster" in chroot.run("id -nG addie").stdout.split()
    assert "stationmaster" not in chroot.run("id -nG eve").stdout.split()
    assert (
        chroot.run("getent passwd stationmaster").stdout.strip().endswith(":/var/lib/stationmaster:/usr/sbin/nologin")
    )
    assert chroot.run("stationmaster --version").stdout.strip() == f"stationmaster {site.index.version}"
    enabled = chroot.path("/etc/systemd/system/multi-user.target.wants/stationmaster.service")
    assert enabled.is_symlink()
    # The unit's After=time-sync.target waits for NTP only with systemd-time-wait-sync enabled; capped.
    assert chroot.path("/etc/systemd/system/sysinit.target.wants/systemd-time-wait-sync.service").is_symlink()
    capped = chroot.path("/etc/systemd/system/systemd-time-wait-sync.service.d/stationmaster.conf")
    assert "TimeoutStartSec=5min" in capped.read_text()
    config = chroot.path("/etc/stationmaster")
    assert (config / "stationmaster.toml").read_text() == (config / "stationmaster.toml.example").read_text()
    assert 'GROUP="stationmaster"' in chroot.path("/etc/udev/rules.d/60-stationmaster-serial.rules").read_text()

    # The service as the unit runs it: the system user, systemd's directories, the installed venv
    # (setpriv execs it, so the exit code is the service's own).
    port = free_port()
    result = chroot.run(
        f"""
        install -d -o stationmaster -g stationmaster -m 0750 /run/stationmaster /var/lib/stationmaster
        setpriv --reuid stationmaster --regid stationmaster --init-groups \
            env STATE_DIRECTORY=/var/lib/stationmaster RUNTIME_DIRECTORY=/run/stationmaster \
            /opt/stationmaster/venv/bin/stationmaster serve --http-host 127.0.0.1 --http-port {port} --no-mdns \
            > /tmp/serve.log 2>&1 &
        serve=$!
        # The service starts in its own process; its socket appearing is the only sign to wait for.
        for _ in $(seq 600); do [ -S /run/stationmaster/admin.sock ] && break; sleep 0.05; done
        stat -c '%a %U:%G' /run/stationmaster/admin.sock
        runuser -u addie -- stationmaster status --json > /tmp/addie.json; echo "addie=$?"
        runuser -u eve -- stationmaster status 2> /tmp/eve.err; echo "eve=$?"
        kill $serve; wait $serve; echo "serve=$?"
        rmdir /run/stationmaster  # as systemd does with RuntimeDirectory= when the unit stops
        """
    )
    lines = result.stdout.split()
    assert lines[:2] == ["660", "stationmaster:stationmaster"], (
        result.stdout + chroot.path("/tmp/serve.log").read_text()
    )
    assert "addie=0" in lines
    assert '"counts"' in chroot.path("/tmp/addie.json").read_text()
    assert "eve=3" in lines
    assert "permission denied" in chroot.path("/tmp/eve.err").read_text()
    assert "serve=0" in lines
    assert chroot.path("/var/lib/stationmaster/registry.sqlite3").is_file()


def test_systemd_analyze_verify_accepts_the_units(site: Site) -> None:
    for unit in UNITS:
        verify = _verify(site.chroot.root, unit)
        assert verify.returncode == 0, verify.stdout + verify.stderr
    # The same verifier refuses a unit whose program is missing: a pass above means something.
    broken = site.chroot.path("/etc/systemd/system/broken-test.service")
    broken.write_text("[Service]\nExecStart=/opt/stationmaster/venv/bin/nothing-here\n")
    try:
        assert _verify(site.chroot.root, "/etc/systemd/system/broken-test.service").returncode != 0
    finally:
        broken.unlink()


def test_running_the_install_again_changes_nothing(site: Site) -> None:
    before = _settled(snapshot(site.chroot.root))
    printed = site.install("--from", site.source, "--admin", "addie")
    assert "created" not in printed
    assert "wrote" not in printed
    assert _settled(snapshot(site.chroot.root)) == before


def test_a_config_an_earlier_install_left_untouched_is_replaced_and_an_edited_one_kept(site: Site) -> None:
    config = site.chroot.path("/etc/stationmaster")
    current = (config / "stationmaster.toml.example").read_text()
    # Earlier examples set every key: installed as they were, they pinned that version's defaults.
    pinned = re.sub(r"^# (\w+ = )", r"\1", current, flags=re.MULTILINE)
    for name in ("stationmaster.toml", "stationmaster.toml.example"):
        (config / name).write_text(pinned)
    site.install("--from", site.source)
    assert (config / "stationmaster.toml").read_text() == current
    edited = current.replace("# port = 8080", "port = 8081")
    (config / "stationmaster.toml").write_text(edited)
    (config / "stationmaster.toml.example").write_text(pinned)
    site.install("--from", site.source)
    assert (config / "stationmaster.toml").read_text() == edited
    (config / "stationmaster.toml").write_text(current)


def test_the_tunnel_is_set_up_when_asked(site: Site) -> None:
    known = site.chroot.path("/tmp/relay_known_hosts")
    known.write_text(
        "relay.example.net ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOr0Xm4qGmDhrlYVpgDMpWmi5z4DrnVjcnzSdI6iyM3V\n"
    )
    printed = site.install(
        "--from",
        site.source,
        "--tunnel",
        "sm-tunnel@relay.example.net:2022",
        "--tunnel-remote-port",
        "2201",
        "--tunnel-known-hosts",
        "/tmp/relay_known_hosts",
    )
    tunnel = site.chroot.path("/etc/stationmaster/tunnel")
    assert (tunnel / "id_ed25519").stat().st_mode & 0o777 == 0o600
    public = (tunnel / "id_ed25519.pub").read_text().strip()
    # The line to paste on the relay limits the key to opening its own port there.
    assert f'restrict,port-forwarding,permitlisten="127.0.0.1:2201" {public}' in printed
    # The tunnel's own user (ssh looks up whoever runs it); the folder stays root's alone.
    assert (
        site.chroot.run("getent passwd stationmaster-tunnel").stdout.strip().endswith(":/nonexistent:/usr/sbin/nologin")
    )
    assert tunnel.stat().st_mode & 0o777 == 0o700
    env = (tunnel / "tunnel.env").read_text()
    for line in (
        "TUNNEL_RELAY_USER=sm-tunnel",
        "TUNNEL_RELAY_HOST=relay.example.net",
        "TUNNEL_RELAY_PORT=2022",
        "TUNNEL_REMOTE_PORT=2201",
    ):
        assert line in env.splitlines()
    assert site.chroot.path("/etc/systemd/system/multi-user.target.wants/stationmaster-tunnel.service").is_symlink()
    verify = _verify(site.chroot.root, "/etc/systemd/system/stationmaster-tunnel.service")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # Again: the key is kept (the relay has it authorized), nothing is rewritten.
    again = site.install("--from", site.source, "--tunnel", "sm-tunnel@relay.example.net:2022")
    assert (tunnel / "id_ed25519.pub").read_text().strip() == public
    assert "wrote" not in again


def test_uninstall_removes_everything_but_the_data_and_settings(site: Site) -> None:
    result = site.chroot.run(f"bash {site.source}/deploy/uninstall.sh")
    assert result.stderr == ""  # userdel's warning about the group's other members included
    printed = result.stdout
    assert "kept the data in /var/lib/stationmaster" in printed
    left = site.added()
    assert left, "the data should still be there"
    assert [path for path in sorted(left) if not path.startswith(ADDED_FOR_GOOD)] == []
    assert site.chroot.path("/var/lib/stationmaster/registry.sqlite3").is_file()
    assert site.chroot.run("getent passwd stationmaster", check=False).returncode == 2
    assert site.chroot.run("getent group stationmaster", check=False).returncode == 2


def test_install_from_an_index_then_purge_leaves_nothing(site: Site) -> None:
    printed = site.install("--from", f"stationmaster=={site.index.version}", "--admin", "addie")
    assert f"installed stationmaster {site.index.version}" in printed
    # The kept data is the service's again (StateDirectory= hands it to the new user at start).
    assert site.chroot.run("stationmaster --version").returncode == 0
    site.uninstall("--purge")
    assert site.added() == set()


def _verify(root: Path, unit: str) -> subprocess.CompletedProcess[str]:
    """systemd's own unit checker, on the host, resolving the unit's paths inside `root`."""
    return subprocess.run(
        ["systemd-analyze", f"--root={root}", "--man=no", "verify", unit],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _settled(found: dict[str, str]) -> dict[str, str]:
    """What a second install must leave alone: everything but the venv's files (pip rewrites them as they were)."""
    return {path: digest for path, digest in found.items() if not path.startswith("/opt/stationmaster/venv")}
