"""Give freed heap back to the system now and then: a Pi's memory is small and shared.

After a fan-out (thousands of stations pulling an image at once) CPython frees its buffers, but glibc keeps
the pages they sat on for the next allocation, so `serve`'s resident size stays at the peak for good.
`malloc_trim(0)` returns those pages; on a C library without it (musl, macOS) this does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

TRIM_INTERVAL_S = 60.0


def _find_malloc_trim() -> Callable[[int], int] | None:
    try:
        trim = ctypes.CDLL(None).malloc_trim  # glibc's, through the symbols already loaded in this process
    except (AttributeError, OSError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_malloc_trim = _find_malloc_trim()


def give_back_freed_memory() -> bool:
    """Return the heap's free pages to the system; True if the C library did (and released any)."""
    return _malloc_trim is not None and bool(_malloc_trim(0))


async def keep_giving_back(interval_s: float = TRIM_INTERVAL_S) -> None:
    """Every `interval_s`, give freed heap back (a few milliseconds' work on the event loop)."""
    if _malloc_trim is None:
        log.debug("no malloc_trim in this C library: freed heap stays with the process")
        return
    while True:
        await asyncio.sleep(interval_s)
        give_back_freed_memory()
