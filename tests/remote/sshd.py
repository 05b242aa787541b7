"""Debian's own `sshd` on the site side of a test link, with keys made for the test and an ssh_config to reach it."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.lan.netns import run, stop_group, wait_for_line

SSHD = "/usr/sbin/sshd"
APPLIANCE_SOCKET = Path("/run/stationmaster/admin.sock")


def have_sshd() -> bool:
    """True where Debian's openssh-server and openssh-client are installed (.ci/run installs them)."""
    return os.access(SSHD, os.X_OK) and shutil.which("ssh") is not None and shutil.which("ssh-keygen") is not None


class SiteSshd:
    """sshd listening on `address` inside namespace `ns`, in a mount namespace of its own whose
    /run/stationmaster/admin.sock is the test service's socket, as on an installed Pi (where `stationmaster`
    is on the PATH of a login: this run's, here).

    `ssh -F self.client_config site` reaches it as root with a key of its own; the host key is known in
    advance, so nothing ever asks.
    """

    def __init__(self, ns: str, address: str, workdir: Path, service_socket: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        for key in ("host_key", "id_ed25519"):
            run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", key, "-f", str(workdir / key))
        (workdir / "authorized_keys").write_text((workdir / "id_ed25519.pub").read_text())
        (workdir / "known_hosts").write_text(f"{address} {(workdir / 'host_key.pub').read_text()}")
        config = workdir / "sshd_config"
        config.write_text(
            textwrap.dedent(f"""\
                ListenAddress {address}
                HostKey {workdir / "host_key"}
                PidFile none
                AuthorizedKeysFile {workdir / "authorized_keys"}
                PermitRootLogin prohibit-password
                PasswordAuthentication no
                KbdInteractiveAuthentication no
                UsePAM no
                StrictModes no
                AllowStreamLocalForwarding yes
                PrintMotd no
                ClientAliveInterval 0
                SetEnv PATH={Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin
                LogLevel VERBOSE
            """)
        )
        self.client_config = workdir / "ssh_config"
        self.client_config.write_text(
            textwrap.dedent(f"""\
                Host site
                    HostName {address}
                    User root
                    IdentityFile {workdir / "id_ed25519"}
                    IdentitiesOnly yes
                    UserKnownHostsFile {workdir / "known_hosts"}
                    StrictHostKeyChecking yes
                    BatchMode yes
            """)
        )
        # A private /run: sshd's privilege-separation directory, and the appliance's socket where an
        # installed Pi has it, without touching the machine's own /run.
        script = textwrap.dedent(f"""\
            mount -t tmpfs tmpfs /run
            mkdir -p /run/sshd {APPLIANCE_SOCKET.parent}
            ln -s {shlex.quote(str(service_socket))} {APPLIANCE_SOCKET}
            exec {SSHD} -D -e -f {config}
        """)
        # A PID namespace too, whose first process is sshd: when it goes, every session it started goes with it.
        isolated = ("unshare", "-m", "-p", "-f", "--kill-child", "--propagation", "private")
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", ns, *isolated, "sh", "-c", script],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        wait_for_line(self.process, lambda line: "Server listening on" in line, 30)

    def ssh_command(self) -> str:
        """The ssh command line that reaches this server as the host `site` (STATIONMASTER_SSH_COMMAND)."""
        return f"ssh -F {shlex.quote(str(self.client_config))}"

    def stop(self) -> None:
        """Stop sshd and every session it started."""
        stop_group(self.process)
