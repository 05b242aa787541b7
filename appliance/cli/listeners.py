"""Who listens on a TCP port, as any user may find out (/proc/net), without asking the program itself."""

from __future__ import annotations

import pwd
from pathlib import Path

_LISTEN = "0A"  # the TCP state column's code for LISTEN


def listener_uid(port: int) -> int | None:
    """The user id that listens on TCP `port` (any address, IPv4 or IPv6); None if nobody does."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            # sl local_address rem_address st tx:rx tr:when retrnsmt uid ...; the port is hex after the colon.
            fields = row.split()
            if len(fields) > 7 and fields[3] == _LISTEN and int(fields[1].rpartition(":")[2], 16) == port:
                return int(fields[7])
    return None


def user_name(uid: int) -> str:
    """The login name of `uid`, or "user <uid>" where it has none."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"user {uid}"
