"""What a station really received of a download, from the kernel's own TCP counters.

The image goes out with sendfile in as large pieces as the kernel takes, so what was handed to the kernel
says little of what the station has: with a few megabytes of send buffer, a whole image can sit unsent when
a station walks out of Wi-Fi range. What the station acknowledged is what it has. Linux counts it for
every connection (TCP_INFO's `tcpi_bytes_acked`, since 4.1) and says what is still queued (SIOCOUTQ).
Both are read on a duplicate of the connection's socket, kept open until the download is judged: the
connection may be closed by the HTTP layer (HTTP/1.0 clients) before the last acknowledgement is counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import socket
import struct
import termios

# struct tcp_info (include/uapi/linux/tcp.h): __u64 tcpi_bytes_acked follows 104 bytes of older fields
# and two __u64 pacing rates.
_BYTES_ACKED = struct.Struct("<Q")
_BYTES_ACKED_AT = 120
_TCP_INFO_SIZE = 256
_TCP_CLOSE = 7  # tcpi_state, the first byte: TCP_CLOSE in include/net/tcp_states.h
_SETTLE_FIRST_S = 0.005  # the first look for the last acknowledgements; then twice as long each time
_SETTLE_MAX_S = 0.25


class TcpProgress:
    """One connection's acknowledged and queued bytes; None from `watch` where the kernel does not tell."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    @classmethod
    def watch(cls, transport: asyncio.BaseTransport | None) -> TcpProgress | None:
        """Start watching the connection under `transport` (a duplicate of its socket, closed by `close`)."""
        sock = None if transport is None else transport.get_extra_info("socket")
        if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
            return None
        try:
            progress = cls(socket.socket(fileno=os.dup(sock.fileno())))
        except OSError:
            return None
        if progress.acked() is None:
            progress.close()
            return None
        return progress

    def acked(self) -> int | None:
        """Bytes of the connection the peer has acknowledged so far (its SYN counted as one)."""
        info = self._info()
        if info is None or len(info) < _BYTES_ACKED_AT + _BYTES_ACKED.size:
            return None  # a kernel older than 4.1
        value: int = _BYTES_ACKED.unpack_from(info, _BYTES_ACKED_AT)[0]
        return value

    def reset(self) -> bool:
        """True once the connection is gone for good (reset, or timed out by the kernel): no more will arrive."""
        info = self._info()
        return info is not None and info[0] == _TCP_CLOSE

    def _info(self) -> bytes | None:
        try:
            return self._sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_SIZE)
        except OSError:
            return None

    def queued(self) -> int:
        """Bytes written to the socket and not yet acknowledged (unsent ones included)."""
        try:
            answer = fcntl.ioctl(self._sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
        except OSError:
            return 0
        return max(int.from_bytes(answer, "little", signed=True), 0)

    def handed(self, transport: asyncio.WriteTransport | None) -> int:
        """Every byte handed to the connection so far, acknowledged, queued in the kernel or in the transport."""
        buffered = transport.get_write_buffer_size() if transport is not None and not transport.is_closing() else 0
        return (self.acked() or 0) + self.queued() + buffered

    async def settled(self, target: int, stall_s: float) -> int:
        """Wait until `target` bytes are acknowledged, or until nothing more is for `stall_s`; return the count.

        No event says "acknowledged": the kernel is asked again, soon at first and then less often.
        """
        loop = asyncio.get_running_loop()
        acked = self.acked() or 0
        last_change, wait = loop.time(), _SETTLE_FIRST_S
        while acked < target and loop.time() - last_change < stall_s and not self.reset():
            await asyncio.sleep(wait)
            wait = min(wait * 2, _SETTLE_MAX_S)
            now = self.acked() or 0
            if now != acked:
                acked, last_change = now, loop.time()
        return acked

    def close(self) -> None:
        """Let go of the duplicate: the connection closes if the HTTP layer has closed its side."""
        with contextlib.suppress(OSError):
            self._sock.close()
