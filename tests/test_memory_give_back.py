"""After a burst of large buffers is freed, `serve` gives the pages back instead of keeping its peak size."""

from __future__ import annotations

import subprocess
import sys

import pytest

# Run in a child process, so that this test's own heap is not what is measured. One freed 1 MiB buffer first
# (glibc then serves buffers of that size from its heap, as it does in a long-lived `serve`), then a burst
# like a fan-out's, freed but for the newest (which pins the top of the heap, as live objects do).
_BURST = """
import sys
from appliance.memory import give_back_freed_memory

def rss_kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

warm = bytearray(1 << 20); del warm
burst = [bytearray(1 << 20) for _ in range(64)]
del burst[:-1]
before = rss_kib()
released = give_back_freed_memory()
print(before, rss_kib(), released)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="glibc on Linux only")
def test_freed_buffers_go_back_to_the_system() -> None:
    out = subprocess.run([sys.executable, "-c", _BURST], capture_output=True, text=True, check=True).stdout.split()
    before, after, released = int(out[0]), int(out[1]), out[2] == "True"
    assert released, "malloc_trim said it gave nothing back"
    assert before - after > 32 * 1024, f"resident {before:,} KiB before, {after:,} KiB after: little came back"
