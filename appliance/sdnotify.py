"""systemd's notify protocol: READY=1 once serving, WATCHDOG=1 while healthy, STOPPING=1 on the way out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping

log = logging.getLogger(__name__)

HealthCheck = Callable[[], Awaitable[None]]
# A health check slower than this counts as a hang: no WATCHDOG=1 is sent, and systemd restarts us.
_HEALTH_TIMEOUT_S = 10.0


class SystemdNotifier:
    """Send datagrams to $NOTIFY_SOCKET (a path or an @abstract name); does nothing when it is not set.

    The protocol is one datagram of newline-separated assignments (sd_notify(3)); it is written here rather
    than taken from a library because the maintained one (systemd-python) needs libsystemd headers to build.
    """

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self._address = _address(env.get("NOTIFY_SOCKET", ""))
        self.watchdog_interval_s = _watchdog_interval(env)

    @property
    def enabled(self) -> bool:
        """True when systemd (or a test) listens."""
        return self._address is not None

    def notify(self, **fields: str | int) -> bool:
        """Send `KEY=value` lines (e.g. READY=1, STATUS=...); return False if nobody listens or it failed."""
        if self._address is None:
            return False
        message = "\n".join(f"{key}={value}" for key, value in fields.items()).encode("utf-8")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(message, self._address)
        except OSError as exc:
            log.warning("could not notify systemd: %s", exc)
            return False
        return True

    async def run_watchdog(self, healthy: HealthCheck) -> None:
        """Ping the watchdog at half its interval for as long as `healthy()` answers in time; until cancelled."""
        interval = self.watchdog_interval_s
        if interval is None or self._address is None:
            return
        while True:
            try:
                await asyncio.wait_for(healthy(), _HEALTH_TIMEOUT_S)
            except Exception as exc:  # a broken registry is exactly what the watchdog is for
                log.error("health check failed, not petting the watchdog: %s", exc)
            else:
                self.notify(WATCHDOG=1)
            await asyncio.sleep(interval / 2)


def _address(raw: str) -> str | bytes | None:
    if not raw:
        return None
    if raw.startswith("@"):
        return b"\0" + raw[1:].encode("utf-8")  # an abstract socket: the name after a NUL byte
    if raw.startswith("/"):
        return raw
    log.warning("ignoring NOTIFY_SOCKET=%r: neither a path nor an @abstract name", raw)
    return None


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    """WATCHDOG_USEC in seconds, if the watchdog is meant for this process."""
    raw = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None
    with contextlib.suppress(ValueError):
        usec = int(raw)
        if usec > 0:
            return usec / 1_000_000
    return None
