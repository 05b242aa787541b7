"""A throw-away Debian 12 root file system (debootstrap, cached between runs) and a local package index."""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MIRROR = os.environ.get("STATIONMASTER_TEST_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# Made once and copied for each use; delete the folder to make it again.
CACHE = Path(os.environ.get("STATIONMASTER_TEST_CACHE", Path.home() / ".cache" / "stationmaster-tests"))
# A minimal Debian as a Pi comes: systemd to boot it (and `systemctl enable` in a chroot), dbus for
# systemctl and logind, sudo for the admin, openssh-server for the tunnel's both ends (the Pi's sshd and,
# in the booted test, the relay) and its client; systemd-timesyncd: Raspberry Pi OS has it, and with it the
# systemd-time-wait-sync the install enables. Never libnss-systemd: a minimal Debian lacks it too.
PACKAGES = "python3,python3-venv,systemd,systemd-timesyncd,dbus,sudo,openssh-server,openssh-client"


def can_bootstrap() -> str | None:
    """None where a root file system can be made here, else why not."""
    if os.geteuid() != 0:
        return "needs root (chroot, mounts)"
    for tool in ("debootstrap", "unshare", "chroot", "systemd-analyze"):
        if shutil.which(tool) is None:
            return f"needs {tool} (.ci/run installs it)"
    return None


def pristine_root() -> Path:
    """A Debian 12 minbase with PACKAGES, made by debootstrap the first time (about a minute), then kept.

    Never change it: copy it with `copy_root`. Runs in parallel wait for the one that makes it.
    """
    key = hashlib.sha256(f"bookworm minbase {PACKAGES} {MIRROR}".encode()).hexdigest()[:12]
    target = CACHE / f"debian12-{key}"
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.is_dir():
            partial_root = target.with_name(target.name + ".partial")
            shutil.rmtree(partial_root, ignore_errors=True)
            (CACHE / "debs").mkdir(exist_ok=True)
            subprocess.run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--cache-dir={CACHE / 'debs'}",
                    f"--include={PACKAGES}",
                    "bookworm",
                    str(partial_root),
                    MIRROR,
                ],
                check=True,
                capture_output=True,
                timeout=900,
            )
            partial_root.rename(target)  # only a finished root is ever found there
    return target


def copy_root(target: Path) -> Path:
    """A copy of the pristine root at `target` (ownership, modes and device nodes kept)."""
    subprocess.run(["cp", "-a", "--reflink=auto", str(pristine_root()), str(target)], check=True, timeout=600)
    return target


class Chroot:
    """Run commands inside the root file system, in a private mount namespace that dies with them."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def run(
        self, script: str, *, user: str | None = None, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run a bash script in the chroot (as root, or as `user`) with /proc and /dev mounted."""
        inner = ["chroot", *([f"--userspec={user}:{user}"] if user else []), str(self.root), "/bin/bash", "-c", script]
        # unshare --mount: the mounts exist only for this command; nothing leaks into the machine's namespace.
        outer = (
            f"mount -t proc proc {self.root}/proc && mount --rbind /dev {self.root}/dev"
            f" && mount --make-rslave {self.root}/dev && exec {' '.join(_quote(a) for a in inner)}"
        )
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
        result = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", outer],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{script!r} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    def path(self, inside: str) -> Path:
        """The host path of a path inside the chroot."""
        return self.root / inside.lstrip("/")

    def copy_checkout(self, inside: str = "/usr/src/stationmaster") -> str:
        """Copy this checkout (without venv, caches or .git) into the chroot; return where it is inside."""
        target = self.path(inside)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(
            ROOT,
            target,
            ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.egg-info", ".*_cache", "build"),
        )
        return inside


def snapshot(root: Path, tops: tuple[str, ...] = ("etc", "opt", "usr/local", "var/lib", "run")) -> dict[str, str]:
    """Every file, link and directory under `tops`, with a digest of each file's bytes (links: target)."""
    found: dict[str, str] = {}
    for top in tops:
        base = root / top
        if not base.exists():
            continue
        for path in [base, *base.rglob("*")]:
            relative = "/" + str(path.relative_to(root))
            if relative.startswith(("/var/lib/apt", "/var/lib/dpkg", "/etc/ld.so.cache")):
                continue
            if path.is_symlink():
                found[relative] = "-> " + os.readlink(path)
            elif path.is_dir():
                found[relative] = "dir"
            elif path.is_file():
                found[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


class LocalIndex:
    """Stationmaster's wheel and every wheel it needs: a flat wheelhouse, and a PEP 503 index of it on loopback."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.wheelhouse = directory / "wheels"
        self.url = ""
        self.version = ""
        self._server: ThreadingHTTPServer | None = None

    def build(self) -> None:
        """Build the checkout's wheel (and wheels of any dependency that comes as source) and fetch the rest."""
        pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
        subprocess.run([*pip, "wheel", "--wheel-dir", str(self.wheelhouse), str(ROOT)], check=True, timeout=600)
        # install.sh builds the checkout itself too: it needs the build backend.
        subprocess.run(
            [*pip, "download", "--dest", str(self.wheelhouse), "setuptools>=69", "wheel"], check=True, timeout=600
        )
        for wheel in self.wheelhouse.iterdir():
            name = _normalized(wheel.name.split("-")[0])
            (self.directory / "simple" / name).mkdir(parents=True, exist_ok=True)
            os.link(wheel, self.directory / "simple" / name / wheel.name)
            if name == "stationmaster":
                self.version = wheel.name.split("-")[1]

    @contextmanager
    def serving(self) -> Iterator[str]:
        """Serve the index on 127.0.0.1 (directory listings are what pip reads); yield its URL."""
        handler = partial(_QuietHandler, directory=str(self.directory))
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}/simple/"
        try:
            yield self.url
        finally:
            server.shutdown()
            server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\\''") + "'"
