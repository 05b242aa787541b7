"""Debian's wrk as a second load generator on the references, so that the benchmark's own client is shown not
to be the ceiling (or said to be, where the two disagree)."""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
from pathlib import Path

_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
_TRANSFER = re.compile(r"Transfer/sec:\s+([\d.]+)([KMG]?)B")
_SCALE = {"": 1 / 1024 / 1024, "K": 1 / 1024, "M": 1.0, "G": 1024.0}


def available() -> bool:
    """True where wrk is installed (`apt-get install wrk`)."""
    return shutil.which("wrk") is not None


async def requests_per_second(url: str, bodies: list[bytes], connections: int, seconds: float) -> float:
    """wrk, one thread, POSTing the JSON `bodies` in turn over `connections` keep-alive connections; answered
    per second (raises if any answer is not 2xx or 3xx)."""
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "post.lua"
        script.write_text(
            "bodies = {" + ",".join(_lua_string(body) for body in bodies) + "}\n"
            "i = 0\n"
            "request = function()\n"
            "  i = i % #bodies + 1\n"
            '  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, bodies[i])\n'
            "end\n"
        )
        out = await _run(url, connections, seconds, "-s", str(script))
    if "Non-2xx or 3xx responses" in out:
        raise RuntimeError(f"wrk got refusals: {out[-500:]}")
    return float(_found(_RATE, out).group(1))


async def mib_per_second(url: str, connections: int, seconds: float) -> float:
    """wrk, one thread, GETting `url` over `connections` keep-alive connections; MiB received per second."""
    match = _found(_TRANSFER, await _run(url, connections, seconds))
    return float(match.group(1)) * _SCALE[match.group(2)]


async def _run(url: str, connections: int, seconds: float, *extra: str) -> str:
    process = await asyncio.create_subprocess_exec(
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds:g}s",
        *extra,
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    return out.decode(errors="replace")


def _found(pattern: re.Pattern[str], text: str) -> re.Match[str]:
    match = pattern.search(text)
    if match is None:
        raise RuntimeError(f"wrk said: {text[-500:]}")
    return match


def _lua_string(data: bytes) -> str:
    return '"' + "".join(f"\\{byte}" for byte in data) + '"'
