"""The appliance's admin socket on the admin's own machine: the system's `ssh -N -L`, kept up in the background.

The admin's own ssh does the connecting, so their keys, agent, ~/.ssh/config (users, ports, ProxyJump to the
relay of the reverse tunnel) all apply; a handful of options make the forward behave whatever that config says.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from appliance.remote.destination import SshDestination

# Given on the command line, these win over the admin's ssh config (ssh keeps the first value it obtains).
_OPTIONS = (
    # A forward that cannot be set up ends ssh, rather than leaving a connection that forwards nothing.
    "ExitOnForwardFailure=yes",
    # A socket file left behind by an earlier ssh (killed, or cut off with the link) is replaced, not a bind error.
    "StreamLocalBindUnlink=yes",
    # A link that stops answering ends ssh within about 20 s, and a new forward is made once it answers again.
    "ServerAliveInterval=5",
    "ServerAliveCountMax=3",
    "ConnectTimeout=20",
    # A connection of our own: a shared ControlMaster would hold the forward after we quit, outlive a dead
    # link, or take the forward over from us.
    "ControlMaster=no",
    "ControlPath=none",
    "RequestTTY=no",
    "PermitLocalCommand=no",
)
RETRY_S = (1.0, 2.0, 5.0, 10.0)
_READY_POLL_S = 0.05
# Unix socket paths are short (104 bytes on macOS): a long $TMPDIR is passed over for /tmp.
_LONGEST_BASE = 60
_NOT_WORTH_SAYING = ("Warning: Permanently added", "Authenticated to")


class ForwardError(Exception):
    """ssh could not set up the forward; the message says what ssh said."""


class SshForward:
    """`ssh -N -L LOCAL:REMOTE destination`: a private local socket that reaches the appliance's admin socket.

    Use as `with SshForward(...) as forward:` and talk to `forward.local_socket`. The first connection is
    made in the foreground, so ssh can ask for a passphrase or a new host key on the terminal; after that
    ssh never asks (BatchMode), and whenever it ends (the link dropped) a new one is started, after 1, 2, 5,
    then every 10 s. `trouble` says, while the forward is down, what ssh last said.
    """

    def __init__(self, destination: SshDestination, remote_socket: Path, ssh: Sequence[str] = ("ssh",)) -> None:
        self.destination = destination
        self.remote_socket = remote_socket
        self._ssh = list(ssh)
        # 0700, made by mkdtemp: nobody else on this machine may reach the appliance through our socket.
        self._directory = Path(tempfile.mkdtemp(prefix="stationmaster-", dir=_socket_base()))
        self.local_socket = self._directory / "admin.sock"
        self._log = self._directory / "ssh.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._keeper: threading.Thread | None = None
        self.trouble: str | None = None
        self.started = 0  # how many ssh processes so far: 1 plus the reconnections

    def __enter__(self) -> SshForward:
        self.open()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def open(self) -> None:
        """Connect (ssh may ask on the terminal) and wait for the forward; then keep it up in the background."""
        try:
            self._start(batch=False)
            problem = self._wait_ready()
        except BaseException:
            self.close()
            raise
        if problem is not None:
            self.close()
            raise ForwardError(f"ssh could not open a forward to {self.destination}: {problem}")
        self._keeper = threading.Thread(target=self._keep_up, name="ssh-forward", daemon=True)
        self._keeper.start()

    def close(self) -> None:
        """End ssh and remove the private directory with its socket."""
        with self._lock:
            self._closing.set()
            process = self._process
        if process is not None:
            _end(process)
        if self._keeper is not None and self._keeper is not threading.current_thread():
            self._keeper.join(timeout=10)
        shutil.rmtree(self._directory, ignore_errors=True)

    @property
    def pid(self) -> int | None:
        """The process id of the ssh running now (None before the first)."""
        process = self._process
        return None if process is None else process.pid

    def said(self) -> str:
        """The last thing the current ssh wrote to its error output worth showing (e.g. why a channel failed)."""
        try:
            lines = self._log.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return ""
        worth = [line.strip() for line in lines if line.strip() and not line.startswith(_NOT_WORTH_SAYING)]
        return worth[-1] if worth else ""

    def _start(self, *, batch: bool) -> None:
        command = [
            *self._ssh,
            "-N",
            *(option for setting in _OPTIONS for option in ("-o", setting)),
            *(["-o", "BatchMode=yes"] if batch else []),
            "-L",
            f"{self.local_socket}:{self.remote_socket}",
            *self.destination.arguments(),
        ]
        with self._lock:
            if self._closing.is_set():
                return
            # Its appearance is the sign that the new ssh is ready.
            self.local_socket.unlink(missing_ok=True)
            with self._log.open("wb") as log:
                try:
                    # ssh stays in this process group: a terminal that closes takes it with us.
                    self._process = subprocess.Popen(
                        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log
                    )
                except FileNotFoundError:
                    raise ForwardError(
                        f"no {self._ssh[0]!r} command on this machine: install OpenSSH's client"
                    ) from None
            self.started += 1

    def _wait_ready(self) -> str | None:
        """None once the local socket is there; what ssh said if it ended first (or we are closing)."""
        process = self._process
        assert process is not None
        # ssh offers no signal of a forward set up but the socket itself: look for it.
        while not self.local_socket.is_socket():
            if process.poll() is not None:
                return self.said() or f"ssh ended with exit code {process.returncode}"
            if self._closing.wait(_READY_POLL_S):
                return "closing"
        return None

    def _keep_up(self) -> None:
        attempt = 0
        while not self._closing.is_set():
            process = self._process
            assert process is not None
            process.wait()
            if self._closing.is_set():
                return
            self.trouble = self.said() or f"ssh ended with exit code {process.returncode}"
            if self._closing.wait(RETRY_S[min(attempt, len(RETRY_S) - 1)]):
                return
            try:
                self._start(batch=True)
            except ForwardError as exc:
                self.trouble = str(exc)
                attempt += 1
                continue
            problem = self._wait_ready()
            if problem is None:
                self.trouble, attempt = None, 0
            else:
                self.trouble, attempt = problem, attempt + 1


def _end(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)


def _socket_base() -> str:
    """A private runtime directory if the system keeps one for us, else the temporary directory, if short."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime) and len(runtime) <= _LONGEST_BASE:
        return runtime
    base = tempfile.gettempdir()
    return base if len(base) <= _LONGEST_BASE else "/tmp"
