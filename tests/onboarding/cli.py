"""The `stationmaster` command as the admin runs it, as a child process beside an in-process service."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import stationmaster_command


@dataclass(frozen=True, slots=True)
class Ran:
    """What a finished command left behind."""

    code: int
    stdout: str
    stderr: str


async def stationmaster(socket: Path, *args: str, stdin: str | None = None, cwd: Path | None = None) -> Ran:
    """Run `stationmaster ARGS` against the service on `socket` without blocking the service's event loop."""
    process = await asyncio.create_subprocess_exec(
        *stationmaster_command(*args),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
        env={**os.environ, "STATIONMASTER_ADMIN_SOCKET": str(socket)},
    )
    out, err = await asyncio.wait_for(process.communicate(None if stdin is None else stdin.encode()), 60)
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())
