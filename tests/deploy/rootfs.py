"""A throw-away Debian 12 root file system (debootstrap) to run the install scripts in, and a local index."""

from __future__ import annotations

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
# systemd: `systemctl enable` works in a chroot (it only makes links); openssh-client: the tunnel's key;
# systemd-timesyncd: Raspberry Pi OS has it, and with it the systemd-time-wait-sync the install enables.
PACKAGES = "python3,python3-venv,systemd,systemd-timesyncd,openssh-client"


def can_bootstrap() -> str | None:
    """None where a root file system can be made here, else why not."""
    if os.geteuid() != 0:
        return "needs root (chroot, mounts)"
    for tool in ("debootstrap", "unshare", "chroot", "systemd-analyze"):
        if shutil.which(tool) is None:
            return f"needs {tool} (.ci/run installs it)"
    return None


def bootstrap(target: Path, cache: Path) -> None:
    """Make a minimal Debian 12 in `target` (the .debs are cached in `cache` for the rest of the run)."""
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--cache-dir={cache}",
            f"--include={PACKAGES}",
            "bookworm",
            str(target),
            MIRROR,
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )


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
    """A PEP 503 package index on loopback holding Stationmaster's wheel and every wheel it needs."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.url = ""
        self.version = ""
        self._server: ThreadingHTTPServer | None = None

    def build(self) -> None:
        """Build the checkout's wheel and fetch its dependencies and build backend into simple/<name>/."""
        wheels = self.directory / "wheels"
        pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
        subprocess.run([*pip, "wheel", "--wheel-dir", str(wheels), str(ROOT)], check=True, timeout=600)
        # The chroot builds the checkout itself too: it needs the build backend from the index.
        subprocess.run([*pip, "download", "--dest", str(wheels), "setuptools>=69", "wheel"], check=True, timeout=600)
        for wheel in wheels.iterdir():
            name = _normalized(wheel.name.split("-")[0])
            (self.directory / "simple" / name).mkdir(parents=True, exist_ok=True)
            shutil.move(wheel, self.directory / "simple" / name / wheel.name)
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
