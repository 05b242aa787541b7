"""Whether the system clock is synchronised, as systemd tells it (a Pi before the Pi 5 has no battery clock)."""

from __future__ import annotations

import subprocess
from pathlib import Path

# systemd-timesyncd touches this at every synchronisation (systemd-time-wait-sync waits for it).
SYNC_FLAG = Path("/run/systemd/timesync/synchronized")
_TIMEDATECTL = ("timedatectl", "show", "-p", "NTPSynchronized", "--value")


def synchronised(flag: Path = SYNC_FLAG) -> bool | None:
    """True once the clock was set by NTP since boot, False while it has not been, None when nothing can tell.

    systemd-timesyncd's flag decides where timesyncd runs (its directory exists): present once it has
    synchronised. Elsewhere (chrony, ntpd) `timedatectl` tells the kernel's own verdict. Blocking: run it
    in a thread.
    """
    if flag.exists():
        return True
    if flag.parent.is_dir():
        return False
    try:
        answer = subprocess.run(_TIMEDATECTL, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    word = answer.stdout.strip()
    if answer.returncode != 0 or word not in ("yes", "no"):
        return None
    return word == "yes"
