"""A 3G-like link between two network namespaces: delay, a rate limit and loss, each way, and a switch to cut it.

The kernel of the development machine has no `netem` (CONFIG_NET_SCH_NETEM is not set, and no `fq` for
timed departures either), so the link is emulated here, in a child process, as netem would: two TUN devices,
one in each namespace, and this process carrying every IP packet from one to the other. Each direction
has its own queue: a packet leaves when the ones before it have been sent at the link's rate, arrives
`delay` later, and is lost with probability `loss`; a packet that would wait more than a second in the
queue is dropped (a 3G modem's buffer is not endless). While cut, every packet is dropped.

`python -m tests.remote.slowlink NAME_A NAME_B --delay-ms 150 --rate-kbit 2000 --loss 0.005` makes the two
devices, prints "ready", and then reads commands on its stdin: "cut" and "restore", each answered "ok".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import random
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.lan.netns import run, wait_for_line

_TUNSETIFF = 0x400454CA
_IFF_TUN = 0x0001
_IFF_NO_PI = 0x1000
_MAX_QUEUE_S = 1.0


@dataclass(frozen=True, slots=True)
class Shape:
    """What the link does to each packet, the same both ways."""

    delay_s: float = 0.150
    rate_bit_s: float = 2_000_000
    loss: float = 0.005


class SlowLink:
    """Two namespaces, `home` and `site`, joined by the emulated link; the site is 10.S.0.2, home 10.S.0.1."""

    def __init__(self, prefix: str, subnet: int, shape: Shape = Shape(), seed: int = 1) -> None:
        self.home, self.site = f"{prefix}home", f"{prefix}site"
        self.home_device, self.site_device = f"{prefix}h", f"{prefix}s"
        self.home_address, self.site_address = f"10.{subnet}.0.1", f"10.{subnet}.0.2"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.remote.slowlink",
                self.home_device,
                self.site_device,
                f"--delay-ms={shape.delay_s * 1000:g}",
                f"--rate-kbit={shape.rate_bit_s / 1000:g}",
                f"--loss={shape.loss:g}",
                f"--seed={seed}",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        try:
            wait_for_line(self.process, lambda line: line == "ready", 30)
            for ns, device, mine, peer in (
                (self.home, self.home_device, self.home_address, self.site_address),
                (self.site, self.site_device, self.site_address, self.home_address),
            ):
                run("ip", "netns", "add", ns)
                run("ip", "link", "set", device, "netns", ns)
                run("ip", "-n", ns, "addr", "add", mine, "peer", f"{peer}/32", "dev", device)
                run("ip", "-n", ns, "link", "set", device, "up")
                run("ip", "-n", ns, "link", "set", "lo", "up")
        except BaseException:
            self.remove()
            raise

    def cut(self) -> None:
        """Drop every packet both ways from now on (the TCP connections across it stay, unanswered)."""
        self._command("cut")

    def restore(self) -> None:
        """Carry packets again."""
        self._command("restore")

    def home_bytes(self) -> int:
        """Bytes sent plus bytes received by the home end so far (IP packets, headers included)."""
        shown = json.loads(run("ip", "-json", "-statistics", "-n", self.home, "link", "show", "dev", self.home_device))
        counters = shown[0]["stats64"]
        return int(counters["rx"]["bytes"]) + int(counters["tx"]["bytes"])

    def remove(self) -> None:
        """Stop the link and delete both namespaces."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        for ns in (self.home, self.site):
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True, timeout=30)

    def _command(self, word: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(word + "\n")
        self.process.stdin.flush()
        wait_for_line(self.process, lambda line: line == "ok", 10)


class _Direction:
    """One way of the link: its own queue at the link's rate."""

    def __init__(self, source: int, sink: int, shape: Shape, chance: random.Random) -> None:
        self.source, self.sink, self.shape, self.chance = source, sink, shape, chance
        self.free_at = 0.0  # when the last queued packet has left
        self.cut = False

    def readable(self, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            try:
                packet = os.read(self.source, 65536)
            except BlockingIOError:
                return
            now = time.monotonic()
            if self.cut or self.chance.random() < self.shape.loss:
                continue
            leaves = max(now, self.free_at) + len(packet) * 8 / self.shape.rate_bit_s
            if leaves - now > _MAX_QUEUE_S:
                continue  # the modem's buffer is full
            self.free_at = leaves
            loop.call_at(loop.time() + (leaves - now) + self.shape.delay_s, self._deliver, packet)

    def _deliver(self, packet: bytes) -> None:
        if self.cut:
            return  # what was in flight when the link went is lost too
        with contextlib.suppress(OSError):  # the device is down or gone: a lost packet, as on a real link
            os.write(self.sink, packet)


def _open_tun(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, _TUNSETIFF, struct.pack("16sH", name.encode(), _IFF_TUN | _IFF_NO_PI))
    return fd


async def _carry(names: tuple[str, str], shape: Shape, seed: int) -> None:
    loop = asyncio.get_running_loop()
    first, second = (_open_tun(name) for name in names)
    chance = random.Random(seed)
    ways = (_Direction(first, second, shape, chance), _Direction(second, first, shape, chance))
    for way in ways:
        loop.add_reader(way.source, way.readable, loop)
    print("ready", flush=True)
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    while line := (await commands.readline()).decode().strip():
        for way in ways:
            way.cut = line == "cut"
        print("ok", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs=2)
    parser.add_argument("--delay-ms", type=float, default=150)
    parser.add_argument("--rate-kbit", type=float, default=2000)
    parser.add_argument("--loss", type=float, default=0.005)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    shape = Shape(args.delay_ms / 1000, args.rate_kbit * 1000, args.loss)
    asyncio.run(_carry((args.names[0], args.names[1]), shape, args.seed))


if __name__ == "__main__":
    main()
